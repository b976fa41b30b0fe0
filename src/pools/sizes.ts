import type { Pool } from "../config/pools.js";

export type JobSize = Pool["sizes"][number];

/** What a runner's container is given: memory and pids always, cpus when the pool or size sets it. */
export interface RunnerResources {
  memory: number;
  pids: number;
  cpus?: number;
}

/** The pool's size with this label (case-insensitive); undefined for no label or one the pool does not offer. */
export function sizeOf(pool: Pool, label: string | undefined): JobSize | undefined {
  if (label === undefined) return undefined;
  const key = label.toLowerCase();
  return pool.sizes.find((size) => size.label.toLowerCase() === key);
}

/** The resources of a runner of `pool` made for a job of size `size` (a size label; none: the pool's own). */
export function runnerResources(pool: Pool, size?: string): RunnerResources {
  const chosen = sizeOf(pool, size)?.resources ?? {};
  const cpus = chosen.cpus ?? pool.resources.cpus;
  return {
    memory: chosen.memory ?? pool.resources.memory,
    pids: chosen.pids ?? pool.resources.pids,
    ...(cpus === undefined ? {} : { cpus }),
  };
}

/**
 * The pool as a runner of this size sees it: the size's resources, and its label added to the
 * labels the runner registers with, so GitHub gives it only jobs that fit it. A size label the job
 * itself carries is added too (an OOM re-run of a sized job gets a bigger size, and GitHub still
 * gives the job only to a runner with every one of its labels).
 */
export function sizedPool(pool: Pool, size: string | undefined, jobLabels: readonly string[] = []): Pool {
  const chosen = sizeOf(pool, size);
  if (!chosen) return pool;
  const carried = pool.sizes
    .filter((offered) => offered !== chosen && jobLabels.some((label) => sizeOf(pool, label) === offered))
    .map((offered) => offered.label);
  return {
    ...pool,
    labels: [...pool.labels, ...carried, chosen.label],
    resources: runnerResources(pool, chosen.label),
  };
}

/**
 * The jobs (or runners) of one size: a runner of another size, or of none, lacks the size's label,
 * so GitHub never gives it a job of this size.
 */
export function ofSize<T extends { size?: string }>(items: readonly T[], size: string): T[] {
  const key = size.toLowerCase();
  return items.filter((item) => item.size?.toLowerCase() === key);
}

/** The largest runner a pool can ask for: its own resources and each of its sizes'. */
export function largestResources(pool: Pool): { memory: number; cpus: number | undefined; size: string | undefined }[] {
  return [undefined, ...pool.sizes.map((size) => size.label)].map((size) => {
    const resources = runnerResources(pool, size);
    return { memory: resources.memory, cpus: resources.cpus, size };
  });
}
