import type { Queue } from "bullmq";
import type { Logger } from "pino";
import { parseScope } from "../lifecycle/reconcile-plan.js";
import type { Pool } from "../config/pools.js";
import type { PoolCatalog } from "../pools/catalog.js";
import { freeRunners, unservedJobs } from "../pools/supply.js";
import { requestWarmRunners, warmShortfall } from "../pools/warm.js";
import type { ProvisionRequest } from "../queue/jobs.js";
import { describeScope } from "../scope/runner-scope.js";
import type { Slots } from "../slots/slots.js";
import type { DemandLedger } from "../state/demand-ledger.js";
import type { RunnerRecord, RunnerStore } from "../state/runner-store.js";

export interface WarmReplacementDeps {
  pools: PoolCatalog;
  runners: Pick<RunnerStore, "listFree">;
  ledger: Pick<DemandLedger, "waitingCount">;
  /** The pool's slot holders: the room left under maxRunners. */
  slots: Pick<Slots, "holders">;
  provisionQueue: Queue<ProvisionRequest>;
  /** The idle runners the pool keeps now (floor, schedule or adaptive forecast). */
  warmTargetOf: (pool: Pool) => Promise<number>;
  log: Logger;
  now: () => number;
}

/**
 * A warm runner (made for no job of its own) that takes a job leaves its pool short of its warm
 * target: the warm runners the pool lacks are asked for now, as the reconciler's next pass would,
 * with the same entries, so the two together never ask beyond the target. Returns how many.
 */
export async function replaceTakenWarmRunner(deps: WarmReplacementDeps, taken: RunnerRecord): Promise<number> {
  if (taken.githubJobId !== 0) return 0;
  const pool = (await deps.pools.effective()).find((candidate) => candidate.name === taken.pool);
  if (!pool?.warmScope) return 0;
  // Warm runners register with the pool's warmScope; a runner of an earlier one is left to the reconciler.
  if (describeScope(parseScope(pool.warmScope)) !== describeScope(taken.scope)) return 0;
  const now = deps.now();
  const [records, waiting, holders, target] = await Promise.all([
    deps.runners.listFree(pool.name),
    deps.ledger.waitingCount(pool.name),
    deps.slots.holders(pool.name, now),
    deps.warmTargetOf(pool),
  ]);
  if (target === 0) return 0;
  const free = freeRunners(pool.name, records).length;
  const room = Math.max(0, pool.maxRunners - holders.length);
  const unserved = Math.min(unservedJobs(waiting, free), room);
  const count = warmShortfall({ target, free, waiting, room, unserved });
  if (count <= 0) return 0;
  await requestWarmRunners(
    deps.provisionQueue,
    pool,
    { installationId: taken.installationId, scope: taken.scope },
    count,
    now,
  );
  return count;
}
