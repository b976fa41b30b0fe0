import type { Queue } from "bullmq";
import type { Pool } from "../config/pools.js";
import { warmJobId, type ProvisionRequest } from "../queue/jobs.js";
import type { RunnerTarget } from "../scope/runner-scope.js";

/**
 * The idle runners a pool keeps by its minIdle alone, when it names the warmScope they register
 * with: what the pure reconcile plan falls back to for a pool its snapshot has no target for.
 * The target itself (floor, schedule or adaptive forecast) is decideWarmTarget's
 * (warm-target.ts), read once per pass by the reconciler and by Shared.warmTargetOf for intake's
 * replacement of a taken warm runner and the history, so they all aim at the same number.
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
