import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadRegistryAuths } from "../../../src/config/load.js";
import { credentialKeyFor, parseRegistryAuths, type RegistryAuths } from "../../../src/config/registry-auth.js";

/** The credentials a pull of `image` uses: the entry credentialKeyFor picks. */
function credentials(auths: RegistryAuths, image: string, poolKey: string | undefined) {
  const key = credentialKeyFor(image, auths, poolKey);
  return key === undefined ? undefined : auths.get(key);
}

const b64 = (text: string) => Buffer.from(text).toString("base64");

function parsed(document: unknown) {
  const result = parseRegistryAuths(document);
  if (!result.ok) throw new Error(result.problems.join("; "));
  return result.auths;
}

function problemsOf(run: () => unknown): { source: string; problems: string[] } {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return { source: (error as ConfigError).source, problems: (error as ConfigError).problems };
  }
  throw new Error("expected a ConfigError");
}

describe("registry credentials", () => {
  it("reads both entry forms of Docker's auths and ignores the rest of a config.json", () => {
    const auths = parsed({
      auths: {
        "https://index.docker.io/v1/": { auth: b64("hubuser:hub:pass") },
        "ghcr.io": { username: "octo", password: "ghp_secret" },
      },
      credsStore: "desktop",
      HttpHeaders: { "User-Agent": "x" },
    });
    expect(auths.get("docker.io")).toEqual({ username: "hubuser", password: "hub:pass", serveraddress: "docker.io" });
    expect(auths.get("ghcr.io")).toEqual({ username: "octo", password: "ghp_secret", serveraddress: "ghcr.io" });
  });

  it("picks the most specific key, or the one a pool names", () => {
    const auths = parsed({
      auths: {
        "ghcr.io": { username: "org", password: "a" },
        "ghcr.io/acme": { username: "acme", password: "b" },
        "127.0.0.1:5000": { username: "local", password: "c" },
      },
    });
    expect(credentials(auths, "ghcr.io/acme/runner:1", undefined)?.username).toBe("acme");
    expect(credentials(auths, "ghcr.io/other/runner:1", undefined)?.username).toBe("org");
    expect(credentials(auths, "127.0.0.1:5000/stub:1", undefined)?.username).toBe("local");
    expect(credentials(auths, "ubuntu:24.04", undefined)).toBeUndefined();
    expect(credentials(auths, "ghcr.io/acme/runner:1", "ghcr.io")?.username).toBe("org");
    // The entry's name tells pulls with different credentials apart (the in-flight pulls' key).
    expect(credentialKeyFor("ghcr.io/acme/runner:1", auths, undefined)).toBe("ghcr.io/acme");
    expect(credentialKeyFor("ghcr.io/acme/runner:1", auths, "ghcr.io")).toBe("ghcr.io");
    expect(credentialKeyFor("ghcr.io/acme/runner:1", auths, "quay.io")).toBeUndefined();
    expect(credentialKeyFor("ubuntu:24.04", auths, undefined)).toBeUndefined();
  });

  it("names the field of a bad entry and never echoes a secret", () => {
    const result = parseRegistryAuths({
      auths: { "ghcr.io": { auth: b64("no-colon-secret") }, "quay.io": {}, "x.io": { username: "u" } },
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toEqual([
      'auths["ghcr.io"].auth: must be base64 of username:password',
      expect.stringMatching(/^auths\["quay\.io"\]: has no credentials.*credsStore/),
      expect.stringMatching(/^auths\["x\.io"\]: has no credentials/),
    ]);
    expect(result.problems.join("\n")).not.toContain("no-colon-secret");
    expect(parseRegistryAuths({ registries: {} })).toMatchObject({
      ok: false,
      problems: [expect.stringMatching(/^auths: /)],
    });
  });

  it("loads a file and the environment variable, the variable winning, with errors naming the source", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "runnerhub-auths-"));
    const file = path.join(dir, "config.json");
    writeFileSync(file, JSON.stringify({ auths: { "ghcr.io": { username: "file", password: "p1" } } }));
    const inline = JSON.stringify({ auths: { "ghcr.io": { username: "env", password: "p2" } } });
    expect(loadRegistryAuths(file, undefined).get("ghcr.io")?.username).toBe("file");
    expect(loadRegistryAuths(file, inline).get("ghcr.io")?.username).toBe("env");
    expect(loadRegistryAuths(undefined, undefined).size).toBe(0);

    expect(problemsOf(() => loadRegistryAuths(path.join(dir, "missing.json"), undefined))).toEqual({
      source: path.join(dir, "missing.json"),
      problems: ["RUNNERHUB_REGISTRY_AUTH_FILE: file not found"],
    });
    const broken = problemsOf(() => loadRegistryAuths(undefined, '{"auths": {"ghcr.io": {"password": "hunter2"'));
    expect(broken.source).toBe("RUNNERHUB_REGISTRY_AUTH");
    expect(broken.problems[0]).toMatch(/^not valid JSON/);
    expect(broken.problems.join("\n")).not.toContain("hunter2");
  });
});
