import { describe, expect, it } from "vitest";
import { authKeysFor, normalizeAuthKey, parseImageReference } from "../../../src/config/image-reference.js";

describe("parseImageReference", () => {
  it("finds the registry the way Docker does", () => {
    expect(parseImageReference("ubuntu")).toEqual({
      registry: "docker.io",
      repository: "library/ubuntu",
      tag: undefined,
      digest: undefined,
    });
    expect(parseImageReference("myoung34/github-runner:2.3")).toMatchObject({
      registry: "docker.io",
      repository: "myoung34/github-runner",
      tag: "2.3",
    });
    expect(parseImageReference("ghcr.io/actions/actions-runner:latest")).toMatchObject({
      registry: "ghcr.io",
      repository: "actions/actions-runner",
      tag: "latest",
    });
    expect(parseImageReference("127.0.0.1:5000/stub:1")).toMatchObject({
      registry: "127.0.0.1:5000",
      repository: "stub",
      tag: "1",
    });
    expect(parseImageReference("localhost/runner")).toMatchObject({ registry: "localhost", repository: "runner" });
    expect(parseImageReference(`ghcr.io/a/b@sha256:${"a".repeat(64)}`)).toMatchObject({
      repository: "a/b",
      digest: `sha256:${"a".repeat(64)}`,
    });
  });

  it("refuses what is not a reference", () => {
    for (const bad of ["", "Ubuntu", "ghcr.io/Acme/x", "a b", "x:", "http://ghcr.io/x", "x:tag:tag"]) {
      expect(parseImageReference(bad), bad).toBeUndefined();
    }
  });
});

describe("auths keys", () => {
  it("normalizes the keys Docker writes", () => {
    expect(normalizeAuthKey("https://index.docker.io/v1/")).toBe("docker.io");
    expect(normalizeAuthKey("registry-1.docker.io")).toBe("docker.io");
    expect(normalizeAuthKey("https://GHCR.io")).toBe("ghcr.io");
    expect(normalizeAuthKey("ghcr.io/acme/")).toBe("ghcr.io/acme");
    expect(normalizeAuthKey("127.0.0.1:5000")).toBe("127.0.0.1:5000");
  });

  it("lists candidate keys most specific first", () => {
    const reference = parseImageReference("ghcr.io/acme/tools/runner:1");
    if (!reference) throw new Error("unparsed");
    expect(authKeysFor(reference)).toEqual([
      "ghcr.io/acme/tools/runner",
      "ghcr.io/acme/tools",
      "ghcr.io/acme",
      "ghcr.io",
    ]);
  });
});
