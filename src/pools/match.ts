import type { Pool } from "../config/pools.js";

export type MatchResult =
  { kind: "matched"; pool: Pool } | { kind: "ignored"; reason: "not-self-hosted" | "no-matching-pool" };

/**
 * A pool serves a job when it carries every label the job asks for (case-insensitive), and the
 * job asks for `self-hosted` (otherwise it is meant for GitHub-hosted runners). Among several
 * pools the most specific one wins (fewest labels beyond the job's), then the first declared.
 */
export function matchPool(jobLabels: readonly string[], pools: readonly Pool[]): MatchResult {
  const wanted = new Set(jobLabels.map((label) => label.toLowerCase()));
  if (!wanted.has("self-hosted")) return { kind: "ignored", reason: "not-self-hosted" };

  let best: { pool: Pool; extra: number } | undefined;
  for (const pool of pools) {
    const offered = new Set(pool.labels.map((label) => label.toLowerCase()));
    if (![...wanted].every((label) => offered.has(label))) continue;
    const extra = offered.size - wanted.size;
    if (!best || extra < best.extra) best = { pool, extra };
  }
  return best ? { kind: "matched", pool: best.pool } : { kind: "ignored", reason: "no-matching-pool" };
}
