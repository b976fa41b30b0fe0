import type { Pool } from "../config/pools.js";

export type MatchResult =
  { kind: "matched"; pool: Pool } | { kind: "ignored"; reason: "not-self-hosted" | "no-matching-pool" };

/** Whether the pool's runners carry every one of these labels (GitHub's rule for taking a job). */
export function carriesLabels(pool: Pool, labels: readonly string[]): boolean {
  const offered = new Set(pool.labels.map((label) => label.toLowerCase()));
  return labels.every((label) => offered.has(label.toLowerCase()));
}

/**
 * The pool runnerhub chose for a job (an OOM re-run goes to the bigger pool) when it still exists
 * and carries the job's labels; otherwise the pool its labels match.
 */
export function routePool(
  jobLabels: readonly string[],
  pools: readonly Pool[],
  chosen: string | undefined,
): MatchResult {
  const pool = chosen === undefined ? undefined : pools.find((candidate) => candidate.name === chosen);
  if (pool && carriesLabels(pool, jobLabels)) return { kind: "matched", pool };
  return matchPool(jobLabels, pools);
}

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
