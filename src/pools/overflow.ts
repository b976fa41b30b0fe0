import type { Pool } from "../config/pools.js";
import { fitOf } from "./match.js";

/** Where demand a pool cannot start now goes next, or why it stays (src/provisioning/overflow-demand.ts acts on it). */
export type OverflowDecision =
  | { kind: "overflow"; to: Pool }
  | { kind: "stay"; reason: "no-overflow" | "already-overflowed" | "pool-missing" | "labels-differ" | "warm-demand" };

/**
 * The pool a job that `pool` cannot start now may start in instead: the pool's `overflow`, when it
 * is declared and carries every label of the job (GitHub hands a runner only jobs whose labels it
 * all has). Demand moves once at most, so no chain and no loop is ever followed at run time, and
 * warm demand (no job: githubJobId 0) belongs to its pool and never moves.
 */
export function overflowTarget(
  pool: Pool,
  job: { githubJobId: number; labels: readonly string[]; overflowedFrom?: string | undefined },
  pools: readonly Pool[],
): OverflowDecision {
  if (pool.overflow === undefined) return { kind: "stay", reason: "no-overflow" };
  if (job.githubJobId <= 0) return { kind: "stay", reason: "warm-demand" };
  if (job.overflowedFrom !== undefined) return { kind: "stay", reason: "already-overflowed" };
  const to = pools.find((candidate) => candidate.name === pool.overflow);
  if (!to || to.name === pool.name) return { kind: "stay", reason: "pool-missing" };
  // Size labels count as the pool's (a sized job keeps its size there); a label-less job
  // (runs-on: {group}) is for its pool's runner group, whose runners alone may take it.
  if (fitOf(to, job.labels).missing.length > 0) return { kind: "stay", reason: "labels-differ" };
  if (job.labels.length === 0 && to.runnerGroup !== pool.runnerGroup) return { kind: "stay", reason: "labels-differ" };
  return { kind: "overflow", to };
}

/** The pools whose `overflow` is `pool`: their parked demand may start in a slot freed there. */
export function overflowingInto(pool: string, pools: readonly Pick<Pool, "name" | "overflow">[]): string[] {
  return pools
    .filter((candidate) => candidate.overflow === pool && candidate.name !== pool)
    .map((candidate) => candidate.name);
}
