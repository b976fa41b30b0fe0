import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { importMap } from "../../../scripts/import-map.js";

const SRC = fileURLToPath(new URL("../../../src", import.meta.url));

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), "import-map-"));
  dirs.push(root);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), text);
  }
  return root;
}

describe("import map", () => {
  it("src/ has no folder-level import loop", () => {
    expect(importMap(SRC).loops).toEqual([]);
  });

  it("counts two folders that import each other, a type-only import included, as one loop", () => {
    const root = tree({
      "a/x.ts": 'import type { Y } from "../b/y.js";\nexport type X = Y[];\n',
      "b/y.ts": 'import { one } from "../c/z.js";\nexport type Y = typeof one;\n',
      "c/z.ts": 'import type { X } from "../a/x.js";\nexport const one = 1;\nexport type Z = X;\n',
      "d/w.ts": 'import { one } from "../c/z.js";\nexport const two = one + 1;\n',
      "main.ts": 'import { two } from "./d/w.js";\nconsole.log(two);\n',
    });
    const map = importMap(root);
    expect(map.loops).toEqual([["a", "b", "c"]]);
    expect(map.folders).toEqual(["a", "b", "c", "d", "main"]);
  });

  it("finds no loop when every import runs down", () => {
    const root = tree({
      "a/x.ts": 'import { one } from "../b/y.js";\nexport const x = one;\n',
      "b/y.ts": "export const one = 1;\n",
    });
    const map = importMap(root);
    expect(map.loops).toEqual([]);
    expect(map.upward).toEqual([]);
    expect(map.layers).toBe(2);
  });
});
