import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const DOCUMENTS = [
  "README.md",
  ...readdirSync(path.join(ROOT, "docs"))
    .filter((file) => file.endsWith(".md"))
    .map((file) => `docs/${file}`),
];

/** Code is not markdown: a `[x](y)` inside it is no link. */
function withoutCode(markdown: string): string {
  return markdown.replace(/^```[^]*?^```/gm, "").replace(/`[^`\n]*`/g, "");
}

/** The anchor GitHub gives a heading: lowercase, punctuation dropped, spaces as dashes, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const headings = markdown.replace(/^```[^]*?^```/gm, "").matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm);
  for (const [, heading = ""] of headings) {
    const slug = heading
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
      .replace(/ /g, "-");
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** Every relative link target of a document, as written. */
function linksOf(markdown: string): string[] {
  return [...withoutCode(markdown).matchAll(/!?\[[^\]]*\]\(<?([^)\s>]+)>?(?:\s+"[^"]*")?\)/g)].map(
    ([, target = ""]) => target,
  );
}

const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");

describe("links in README.md and docs/", () => {
  it("finds the documents and their links", () => {
    expect(DOCUMENTS).toEqual(expect.arrayContaining(["README.md", "docs/configuration.md", "docs/architecture.md"]));
    expect(linksOf(read("README.md")).length).toBeGreaterThan(5);
  });

  it.each(DOCUMENTS)("%s: every relative link names a file that exists, and a heading it has", (document) => {
    const broken = linksOf(read(document))
      .filter((target) => !/^[a-z][a-z+.-]*:/i.test(target))
      .flatMap((target) => {
        const [file = "", anchor] = target.split("#");
        const resolved =
          file === "" ? document : path.posix.normalize(path.posix.join(path.posix.dirname(document), file));
        if (!existsSync(path.join(ROOT, resolved))) return [`${target}: no file ${resolved}`];
        if (anchor === undefined || !resolved.endsWith(".md")) return [];
        return anchorsOf(read(resolved)).has(decodeURIComponent(anchor))
          ? []
          : [`${target}: no heading #${anchor} in ${resolved}`];
      });
    expect(broken).toEqual([]);
  });
});

describe("anchorsOf", () => {
  it("names headings as GitHub does", () => {
    const anchors = anchorsOf("# A b\n## Pools file (`RUNNERHUB_CONFIG`, YAML)\n### A b\n```\n# not a heading\n```\n");
    expect([...anchors]).toEqual(["a-b", "pools-file-runnerhub_config-yaml", "a-b-1"]);
  });
});
