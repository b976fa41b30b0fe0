import { startSchedules } from "../lifecycle/schedules.js";
import { HISTORY_SAMPLE_MS, RECOVERY_PASS_MS } from "../tunables.js";
import type { Shared } from "./shared.js";
import type { TeardownStack } from "./teardown.js";
import type { WorkerRole } from "./worker-role.js";

/**
 * Periodic work: every process redelivers failed webhooks; a process with an engine also
 * reconciles it and keeps its pools' images there (pre-pull, refresh, clean-up).
 */
export async function startSchedulesRole(
  shared: Shared,
  stack: TeardownStack,
  worker: Pick<WorkerRole, "reconcile" | "images"> | undefined,
): Promise<void> {
  const { config, redis, log, now, recovery } = shared;
  // Webhooks sent while this process was down may be lost: the first pass looks.
  await recovery.suspectMiss();
  await startSchedules({
    connection: redis.client,
    prefix: config.redisPrefix,
    log,
    metrics: shared.metrics,
    now,
    recovery: { everyMs: Math.min(RECOVERY_PASS_MS, config.recoveryIntervalMs), run: () => recovery.run() },
    history: { everyMs: HISTORY_SAMPLE_MS, run: () => shared.history.service.sample() },
    reconcile: worker?.reconcile,
    images: worker?.images,
    teardown: stack,
  });
}
