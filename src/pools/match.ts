import type { Pool } from "../config/pools.js";

/** Why no pool serves a job: meant for GitHub-hosted runners, no pool carries its labels, or it has no labels and no pool is groupDefault. */
export type UnmatchedReason = "not-self-hosted" | "no-matching-pool" | "no-labels";

export type MatchResult = { kind: "matched"; pool: Pool; size?: string } | { kind: "ignored"; reason: UnmatchedReason };

function matched(pool: Pool, size: string | undefined): MatchResult {
  return size === undefined ? { kind: "matched", pool } : { kind: "matched", pool, size };
}

const lower = (labels: readonly string[]) => labels.map((label) => label.toLowerCase());

/**
 * How the pool would serve a job with these labels: the size label it picks (at most one of the
 * pool's sizes) and the job's labels it lacks. Size labels count as the pool's labels, one size
 * per runner: a job asking for two of the pool's sizes lacks the second.
 */
export function fitOf(pool: Pool, jobLabels: readonly string[]): { size: string | undefined; missing: string[] } {
  const offered = new Set(lower(pool.labels));
  const sizes = new Map(pool.sizes.map((size) => [size.label.toLowerCase(), size.label]));
  let size: string | undefined;
  const missing: string[] = [];
  for (const label of jobLabels) {
    const key = label.toLowerCase();
    if (offered.has(key)) continue;
    const sized = sizes.get(key);
    if (sized !== undefined && (size === undefined || size.toLowerCase() === key)) size = sized;
    else missing.push(label);
  }
  return { size, missing };
}

/** Whether the pool's runners (with these size labels) carry every one of these labels (GitHub's rule for taking a job). */
export function carriesLabels(pool: Pool, labels: readonly string[], ...sizes: string[]): boolean {
  const offered = new Set(lower([...pool.labels, ...sizes]));
  return labels.every((label) => offered.has(label.toLowerCase()));
}

/**
 * The pool runnerhub chose for a job (an OOM re-run goes to the bigger pool, or a bigger size)
 * when it still exists and carries the job's labels; otherwise the pool its labels match.
 */
export function routePool(
  jobLabels: readonly string[],
  pools: readonly Pool[],
  chosen: string | undefined,
  chosenSize?: string,
): MatchResult {
  const pool = chosen === undefined ? undefined : pools.find((candidate) => candidate.name === chosen);
  const fit = pool && fitOf(pool, jobLabels);
  const named = pool?.sizes.find((offered) => offered.label.toLowerCase() === chosenSize?.toLowerCase());
  // A named size makes a runner that also carries the job's own size label (sizedPool).
  if (pool && named && carriesLabels(pool, jobLabels, ...pool.sizes.map((offered) => offered.label))) {
    return matched(pool, named.label);
  }
  if (pool && fit && fit.missing.length === 0) return matched(pool, fit.size);
  return matchPool(jobLabels, pools);
}

/**
 * A pool serves a job when it carries every label the job asks for (case-insensitive; a size
 * label of the pool counts), and the job asks for `self-hosted` (otherwise it is meant for
 * GitHub-hosted runners). Among several pools the most specific one wins (fewest labels beyond
 * the job's), then the first declared. A job with no labels at all (GitHub sends none for
 * `runs-on: {group: …}`) goes to the groupDefault pool.
 */
export function matchPool(jobLabels: readonly string[], pools: readonly Pool[]): MatchResult {
  if (jobLabels.length === 0) {
    const fallback = pools.find((pool) => pool.groupDefault);
    return fallback ? { kind: "matched", pool: fallback } : { kind: "ignored", reason: "no-labels" };
  }
  const wanted = new Set(lower(jobLabels));
  if (!wanted.has("self-hosted")) return { kind: "ignored", reason: "not-self-hosted" };

  let best: { pool: Pool; size: string | undefined; extra: number } | undefined;
  for (const pool of pools) {
    const fit = fitOf(pool, jobLabels);
    if (fit.missing.length > 0) continue;
    const extra = new Set(lower(pool.labels)).size + (fit.size === undefined ? 0 : 1) - wanted.size;
    if (!best || extra < best.extra) best = { pool, size: fit.size, extra };
  }
  return best ? matched(best.pool, best.size) : { kind: "ignored", reason: "no-matching-pool" };
}

/** The pool a job comes closest to: the fewest of its labels missing, then the first declared. */
export function nearestPool(
  jobLabels: readonly string[],
  pools: readonly Pool[],
): { pool: string; missing: string[] } | undefined {
  let best: { pool: string; missing: string[] } | undefined;
  for (const pool of pools) {
    const { missing } = fitOf(pool, jobLabels);
    if (!best || missing.length < best.missing.length) best = { pool: pool.name, missing };
  }
  return best;
}
