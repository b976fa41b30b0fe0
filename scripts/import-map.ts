// Prints the folder-level import map of src/: its layers, the imports that run upward and the
// loops. A folder is a node (each top-level file is one of its own); folder A depends on B when a
// file in A imports a file in B, type-only imports included, because a loop of types still ties
// the folders together. Loops are the strongly connected components of that graph. To place
// folders in layers, the fewest imports are set aside with Eades, Lin and Smyth's greedy
// feedback-arc heuristic (weighted by the number of file imports); those are the upward imports,
// and a folder's layer is its longest path down to a folder that imports nothing.
// Usage: npx tsx scripts/import-map.ts [--root=src] [--edges]
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** One file's import of another, both relative to the root. */
export interface FileImport {
  from: string;
  to: string;
}

export interface ImportMap {
  files: number;
  lines: number;
  /** Folders and top-level files, sorted. */
  folders: string[];
  /** Per folder, the folders it imports and how many file imports each stands for. */
  weights: Map<string, Map<string, number>>;
  /** Per folder, its layer: 0 imports nothing, below the others. */
  layer: Map<string, number>;
  layers: number;
  upward: FileImport[];
  /** Each loop's folders, sorted. */
  loops: string[][];
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith(".ts") && !name.endsWith(".d.ts") ? [path] : [];
  });
}

const importPattern = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/g;

/** Tarjan's strongly connected components. */
function components(nodes: string[], out: (n: string) => Map<string, number>): string[][] {
  const sccs: string[][] = [];
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of out(v).keys()) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      sccs.push(scc.sort());
    }
  };
  for (const n of nodes) if (!idx.has(n)) visit(n);
  return sccs;
}

/** Eades-Lin-Smyth: an order in which few (weighted) edges point backwards. */
function feedbackOrder(nodes: string[], out: (n: string) => Map<string, number>): string[] {
  const left = new Set(nodes);
  const inW = (v: string) => [...left].reduce((s, u) => s + (u !== v ? (out(u).get(v) ?? 0) : 0), 0);
  const outW = (v: string) => [...out(v)].reduce((s, [w, c]) => s + (left.has(w) ? c : 0), 0);
  const head: string[] = [];
  const tail: string[] = [];
  while (left.size > 0) {
    let changed = true;
    while (changed) {
      changed = false;
      for (const v of [...left]) {
        if (outW(v) === 0) {
          tail.unshift(v);
          left.delete(v);
          changed = true;
        } else if (inW(v) === 0) {
          head.push(v);
          left.delete(v);
          changed = true;
        }
      }
    }
    if (left.size === 0) break;
    const best = [...left].sort((a, b) => outW(b) - inW(b) - (outW(a) - inW(a)) || a.localeCompare(b))[0]!;
    head.push(best);
    left.delete(best);
  }
  return [...head, ...tail];
}

/** The folder-level import map of the TypeScript files under root. */
export function importMap(rootDir: string): ImportMap {
  const root = resolve(rootDir);
  const nodeOf = (file: string): string => {
    const rel = relative(root, file);
    const parts = rel.split("/");
    return parts.length === 1 ? rel.replace(/\.ts$/, "") : parts[0]!;
  };
  const all = tsFiles(root);
  const weights = new Map<string, Map<string, number>>();
  const fileEdges: FileImport[] = [];
  let lines = 0;
  for (const file of all) {
    const text = readFileSync(file, "utf8");
    lines += text.split("\n").length;
    for (const match of text.matchAll(importPattern)) {
      const target = resolve(dirname(file), match[1]!.replace(/\.js$/, ".ts"));
      const from = nodeOf(file);
      const to = nodeOf(target);
      if (from === to) continue;
      fileEdges.push({ from: relative(root, file), to: relative(root, target) });
      const out = weights.get(from) ?? new Map<string, number>();
      out.set(to, (out.get(to) ?? 0) + 1);
      weights.set(from, out);
    }
  }
  const folders = [...new Set(all.map(nodeOf))].sort();
  const out = (n: string) => weights.get(n) ?? new Map<string, number>();
  const loops = components(folders, out).filter((s) => s.length > 1);

  const order = feedbackOrder(folders, out);
  const rank = new Map(order.map((n, i) => [n, i]));
  const upward = fileEdges.filter((e) => rank.get(nodeOf(join(root, e.from)))! > rank.get(nodeOf(join(root, e.to)))!);
  const layer = new Map<string, number>();
  for (const n of [...order].reverse()) {
    const below = [...out(n).keys()].filter((w) => rank.get(w)! > rank.get(n)!);
    layer.set(n, below.length === 0 ? 0 : Math.max(...below.map((w) => layer.get(w)! + 1)));
  }
  const layers = Math.max(...layer.values()) + 1;
  return { files: all.length, lines, folders, weights, layer, layers, upward, loops };
}

function print(map: ImportMap, edges: boolean): void {
  console.log(`files ${map.files}, lines ${map.lines}, folders ${map.folders.length}`);
  console.log(`layers ${map.layers}, upward imports ${map.upward.length}, loops ${map.loops.length}`);
  for (let l = map.layers - 1; l >= 0; l--) {
    console.log(`  layer ${l}: ${map.folders.filter((n) => map.layer.get(n) === l).join(", ")}`);
  }
  for (const loop of map.loops) console.log(`  loop: ${loop.join(" <-> ")}`);
  for (const e of map.upward) console.log(`  upward: ${e.from} -> ${e.to}`);
  if (edges) {
    for (const n of map.folders) for (const [w, c] of map.weights.get(n) ?? []) console.log(`  ${n} -> ${w} (${c})`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = process.argv.find((a) => a.startsWith("--root="))?.slice(7) ?? "src";
  print(importMap(root), process.argv.includes("--edges"));
}
