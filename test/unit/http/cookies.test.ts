import { describe, expect, it } from "vitest";
import { cookieValue } from "../../../src/http/cookies.js";

describe("cookies", () => {
  it("are found by name in a Cookie header", () => {
    expect(cookieValue("a=1; runnerhub_session=abc.def; b=2", "runnerhub_session")).toBe("abc.def");
    expect(cookieValue("xrunnerhub_session=1", "runnerhub_session")).toBeUndefined();
    expect(cookieValue(undefined, "runnerhub_session")).toBeUndefined();
  });
});
