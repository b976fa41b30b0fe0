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
 * The pools' runners (a pool's own resources, or one of its sizes) that fit on none of these
 * engines: more memory than any engine's host has, or more CPUs. Such a runner could never start.
 */
export function oversizedRunners(
  pools: readonly Pool[],
  engines: readonly { engine: string; memory: number; cpus: number }[],
): { pool: string; size: string | undefined; message: string }[] {
  if (engines.length === 0) return [];
  const memory = Math.max(...engines.map((engine) => engine.memory));
  const cpus = Math.max(...engines.map((engine) => engine.cpus));
  const known = engines
    .map((engine) => `${engine.engine} (${formatGiB(engine.memory)}, ${engine.cpus} CPUs)`)
    .join(", ");
  return pools.flatMap((pool) =>
    [undefined, ...pool.sizes.map((size) => size.label)].flatMap((size) => {
      const wanted = runnerResources(pool, size);
      if (wanted.memory <= memory && (wanted.cpus ?? 0) <= cpus) return [];
      const what = size === undefined ? `pool "${pool.name}"` : `size "${size}" of pool "${pool.name}"`;
      return [
        {
          pool: pool.name,
          size,
          message:
            `${what} asks for ${formatGiB(wanted.memory)}${wanted.cpus === undefined ? "" : ` and ${wanted.cpus} CPUs`}, ` +
            `more than any engine has: ${known}; lower its resources or add a bigger engine`,
        },
      ];
    }),
  );
}

function formatGiB(bytes: number): string {
  return `${Math.round((bytes / 1024 ** 3) * 100) / 100}g`;
}
