import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { poolSchema } from "../../../src/config/pools.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");

function sourcesUnder(folder: string): string[] {
  return readdirSync(path.join(ROOT, folder), { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts"))
    .map((file) => read(path.join(folder, file)));
}

/** Every environment variable the code reads: `env.NAME`, `vars.NAME`, `process.env.NAME`, and any RUNNERHUB_ name. */
function variablesRead(): Set<string> {
  const names = new Set<string>();
  for (const source of [...sourcesUnder("src"), ...sourcesUnder("demo")]) {
    for (const [, name = ""] of source.matchAll(/\b(?:env|vars)\.([A-Z][A-Z0-9_]+)\b/g)) names.add(name);
    for (const [name] of source.matchAll(/\bRUNNERHUB_[A-Z0-9_]*[A-Z0-9]\b/g)) names.add(name);
  }
  return names;
}

/** A name is documented when the reference shows it as code: `NAME`, `NAME=…` or `$NAME…`. */
function documented(reference: string, name: string): boolean {
  return [`\`${name}\``, `\`${name}=`, `\`$${name}`].some((form) => reference.includes(form));
}

describe("docs/configuration.md", () => {
  const reference = read("docs/configuration.md");

  it("documents every environment variable the code reads", () => {
    const names = variablesRead();
    expect([...names]).toEqual(expect.arrayContaining(["APP_ID", "DOCKER_HOST", "RUNNERHUB_ROLES", "RUNNERHUB_URL"]));
    expect([...names].filter((name) => !documented(reference, name))).toEqual([]);
  });

  it("documents every variable of .env.example", () => {
    const names = [...read(".env.example").matchAll(/^([A-Z][A-Z0-9_]+)=/gm)].map(([, name = ""]) => name);
    expect(names.length).toBeGreaterThan(30);
    expect(names.filter((name) => !documented(reference, name))).toEqual([]);
  });

  it("has .env.example list the Sentinel and engine placement variables, each under its comment", () => {
    const lines = read(".env.example").split("\n");
    const names = [
      "REDIS_SENTINELS",
      "REDIS_SENTINEL_NAME",
      "REDIS_PASSWORD",
      "REDIS_SENTINEL_PASSWORD",
      "RUNNERHUB_ENGINE_LABELS",
      "RUNNERHUB_ENGINE_MEMORY",
      "RUNNERHUB_ENGINE_CPUS",
    ];
    const uncommented = names.filter((name) => {
      const at = lines.findIndex((line) => line.startsWith(`${name}=`));
      return at < 1 || !lines[at - 1]?.startsWith("# ");
    });
    expect(uncommented).toEqual([]);
  });

  it("documents every field of a pool", () => {
    const fields = Object.keys(poolSchema.in.shape);
    expect(fields).toContain("maxRunners");
    expect(fields.filter((field) => !documented(reference, field))).toEqual([]);
  });
});
