import type { Queue } from "bullmq";
import type { Logger } from "pino";
import { parseScope } from "../lifecycle/reconcile-plan.js";
import type { Pool } from "../config/pools.js";
import type { PoolCatalog } from "../pools/catalog.js";
import { freeRunners, unservedJobs } from "../pools/supply.js";
import { requestWarmRunners, warmShortfall } from "../pools/warm.js";
import type { ProvisionRequest } from "../queue/jobs.js";
import { describeScope, type RunnerScope, type RunnerTarget } from "../scope/runner-scope.js";
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
 * Asks for the warm runners the pool lacks now, registered with `target`, as the reconciler's next
 * pass would, with the same entries, so the two together never ask beyond the warm target.
 * Returns how many.
 */
async function topUpWarmRunners(deps: WarmReplacementDeps, pool: Pool, target: RunnerTarget): Promise<number> {
  const now = deps.now();
  const [records, waiting, holders, wanted] = await Promise.all([
    deps.runners.listFree(pool.name),
    deps.ledger.waitingCount(pool.name),
    deps.slots.holders(pool.name, now),
    deps.warmTargetOf(pool),
  ]);
  if (wanted === 0) return 0;
  const free = freeRunners(pool.name, records).length;
  const room = Math.max(0, pool.maxRunners - holders.length);
  const unserved = Math.min(unservedJobs(waiting, free), room);
  const count = warmShortfall({ target: wanted, free, waiting, room, unserved });
  if (count <= 0) return 0;
  await requestWarmRunners(deps.provisionQueue, pool, target, count, now);
  return count;
}

/** The pool (overrides applied) if warm runners of this scope are its warm runners. */
async function warmPoolOf(deps: WarmReplacementDeps, name: string, scope: RunnerScope): Promise<Pool | undefined> {
  const pool = (await deps.pools.effective()).find((candidate) => candidate.name === name);
  if (!pool?.warmScope) return undefined;
  // Warm runners register with the pool's warmScope; a runner of an earlier one is left to the reconciler.
  return describeScope(parseScope(pool.warmScope)) === describeScope(scope) ? pool : undefined;
}

/**
 * A warm runner (made for no job of its own) that takes a job leaves its pool short of its warm
 * target: the warm runners the pool lacks are asked for now. Returns how many.
 */
export async function replaceTakenWarmRunner(deps: WarmReplacementDeps, taken: RunnerRecord): Promise<number> {
  if (taken.githubJobId !== 0) return 0;
  const pool = await warmPoolOf(deps, taken.pool, taken.scope);
  if (!pool) return 0;
  return topUpWarmRunners(deps, pool, { installationId: taken.installationId, scope: taken.scope });
}

/**
 * A job arriving at an adaptive pool raises its forecast: the warm runners it now wants are asked
 * for at once, not at the next reconcile pass, so a pool waking from a lull is warm after its first
 * jobs. Only where the job's installation covers the pool's warmScope (its organization, or the
 * repository itself). Returns how many.
 */
export async function warmUpOnArrival(deps: WarmReplacementDeps, request: ProvisionRequest): Promise<number> {
  const declared = deps.pools.find(request.pool);
  if (declared?.warm !== "adaptive" || !declared.warmScope) return 0;
  const scope = parseScope(declared.warmScope);
  const covered =
    scope.kind === "org"
      ? scope.org.toLowerCase() === request.owner.toLowerCase()
      : describeScope(scope).toLowerCase() === describeScope(request.scope).toLowerCase();
  if (!covered) return 0;
  const pool = await warmPoolOf(deps, request.pool, scope);
  if (!pool) return 0;
  return topUpWarmRunners(deps, pool, { installationId: request.installationId, scope });
}
