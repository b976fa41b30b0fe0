import { describe, expect, it } from "vitest";
import { escapeHtml, html } from "../../../src/http/html.js";

describe("html", () => {
  it("escapes what it interpolates, except nested fragments; joins arrays; drops empty values", () => {
    const name = `<script>alert("x")</script>&'`;
    expect(html`<p title="${name}">${name}</p>`.text).toBe(
      `<p title="${escapeHtml(name)}">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;</p>`,
    );
    // Another name for the tag, so that the formatter leaves this template as written.
    const tag = html;
    expect(tag`<ul>${["a", "<b>"].map((item) => tag`<li>${item}</li>`)}</ul>`.text).toBe(
      "<ul><li>a</li><li>&lt;b&gt;</li></ul>",
    );
    expect(html`${undefined}${null}${false}${0}`.text).toBe("0");
  });
});
