import type { Queue } from "bullmq";
import type { Pool } from "../config/pools.js";
import { warmJobId, type ProvisionRequest } from "../queue/jobs.js";
import type { RunnerTarget } from "../scope/runner-scope.js";

/**
 * How many idle runners the pool keeps ready: its minIdle, when it names the warmScope they
 * register with. The one place that decides it, so the reconciler's refill and the replacement
 * of a taken warm runner aim at the same number.
 */
export function warmTarget(pool: Pick<Pool, "minIdle" | "warmScope">): number {
  return pool.warmScope ? pool.minIdle : 0;
}

/**
 * Warm runners a pool lacks: its target less the free runners its waiting jobs leave spare, and
 * no more than the room under maxRunners that the runners for its unserved jobs leave.
 */
export function warmShortfall(pool: {
  target: number;
  free: number;
  waiting: number;
  room: number;
  unserved: number;
}): number {
  return Math.min(pool.target - Math.max(0, pool.free - pool.waiting), pool.room - pool.unserved);
}

/**
 * Asks for warm runners in the pool's slots 1..count. Every asker (the reconcile passes of
 * several engines, the replacement of a taken warm runner) uses the same ids, and an entry still
 * queued or running keeps its id taken: together they ask for each missing runner once.
 */
export async function requestWarmRunners(
  queue: Queue<ProvisionRequest>,
  pool: Pick<Pool, "name" | "labels">,
  target: RunnerTarget,
  count: number,
  now: number,
): Promise<void> {
  const owner = target.scope.kind === "org" ? target.scope.org : target.scope.owner;
  const repo = target.scope.kind === "repo" ? target.scope.repo : "";
  for (let slot = 1; slot <= count; slot++) {
    await queue.add(
      "provision",
      {
        githubJobId: 0,
        runId: 0,
        owner,
        repo,
        installationId: target.installationId,
        scope: target.scope,
        labels: pool.labels,
        pool: pool.name,
        queuedAt: now,
        enqueuedAt: now,
      },
      { jobId: warmJobId(pool.name, slot), removeOnComplete: true, removeOnFail: true },
    );
  }
}
