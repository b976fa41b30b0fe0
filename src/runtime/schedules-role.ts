import { createDeliveryRecovery, githubDeliveriesApi } from "../lifecycle/delivery-recovery.js";
import { startSchedules } from "../lifecycle/schedules.js";
import { RECOVERY_MAX_AGE_MS } from "../tunables.js";
import type { Shared } from "./shared.js";
import type { TeardownStack } from "./teardown.js";
import type { WorkerRole } from "./worker-role.js";

/**
 * Periodic work: every process redelivers failed webhooks; a process with an engine also
 * reconciles it.
 */
export async function startSchedulesRole(
  shared: Shared,
  stack: TeardownStack,
  reconcile: WorkerRole["reconcile"] | undefined,
): Promise<void> {
  const { config, redis, log, now } = shared;
  const recovery = createDeliveryRecovery({
    ...githubDeliveriesApi(() => shared.probot.auth()),
    redis: redis.client,
    prefix: config.redisPrefix,
    log,
    now,
    maxAgeMs: RECOVERY_MAX_AGE_MS,
  });
  await startSchedules({
    connection: redis.client,
    prefix: config.redisPrefix,
    log,
    now,
    recovery: { everyMs: config.recoveryIntervalMs, run: () => recovery.run() },
    reconcile,
    teardown: stack,
  });
}
