import type { Queue } from "bullmq";
import type { Logger } from "pino";
import type { Pool } from "../config/pools.js";
import type { ContainerEngine } from "../docker/engine.js";
import type { RunnersApi } from "../github/runners-api.js";
import { swallowInto } from "../observability/internal-errors.js";
import type { Metrics } from "../observability/metrics.js";
import type { PoolCatalog } from "../pools/catalog.js";
import type { ProvisionRequest } from "../queue/jobs.js";
import type { EngineSlots } from "../slots/slots.js";
import type { DemandLedger } from "../state/demand-ledger.js";
import { underLock } from "../state/lock.js";
import type { RunnerStore } from "../state/runner-store.js";
import type { StoreContext } from "../state/store-context.js";
import { RECONCILE_LOCK_MS, RETIRE_LOCK_MS } from "../tunables.js";
import { carryOutAll } from "./reconcile-actions.js";
import { planReconcile, type ReconcileAction, type ReconcileSnapshot } from "./reconcile-plan.js";
import { readSnapshot } from "./reconcile-snapshot.js";

export interface ReconcilerDeps {
  engine: ContainerEngine;
  /** The engine's Docker ID: records of an earlier engine under its name are not this pass's. */
  engineId: string;
  /** False once another engine took this one's name: from then on no pass runs here. */
  ownsEngine: () => boolean;
  runners: RunnerStore;
  ledger: DemandLedger;
  slots: EngineSlots;
  pools: PoolCatalog;
  github: RunnersApi;
  provisionQueue: Queue<ProvisionRequest>;
  /** The exit watcher's cleanup, for containers that exited without an event seen. */
  cleanUpExited(containerId: string, labels: Record<string, string>): Promise<void>;
  store: StoreContext;
  bootstrapTimeoutMs: number;
  /** Runners younger than this need no GitHub view yet (RECONCILE_FRESH_RUNNER_MS in production). */
  freshRunnerMs: number;
  /** How often each scope served lately is listed for orphans, by one engine (RECONCILE_SWEEP_MS). */
  sweepEveryMs: number;
  /** Gives up engines whose heartbeat fell silent (forgetLostEngines), before each pass reads the state. */
  forgetLostEngines?: () => Promise<unknown>;
  metrics: Metrics;
  log: Logger;
  now: () => number;
}

export type ReconcileSummary = { skipped: true } | { skipped: false; actions: Record<string, number>; failed: number };

/**
 * Runners on their way only lower what a pass provisions: a plan made as if none were coming
 * that provisions nothing is the plan. Only then are the pending provision-queue entries loaded
 * and counted, so a pass costs nothing per entry unless jobs were left without a runner.
 */
async function planWithPendingDemand(deps: ReconcilerDeps, snap: ReconcileSnapshot): Promise<ReconcileAction[]> {
  const plan = planReconcile(snap);
  if (!plan.some((action) => action.kind === "provision")) return plan;
  const pendingDemand = new Map<string, number>();
  for (const entry of await deps.provisionQueue.getJobs(["waiting", "prioritized", "delayed", "active"])) {
    // getJobs yields undefined for an entry removed between listing and loading.
    if (entry) pendingDemand.set(entry.data.pool, (pendingDemand.get(entry.data.pool) ?? 0) + 1);
  }
  return planReconcile({ ...snap, pendingDemand });
}

/**
 * A pool's retirements are decided once for the whole pool: under the pool's lock, on records
 * read after every earlier retirement was written (a retired runner is marked retiring before
 * the lock is let go), so the surplus other engines already retired is not retired again. A
 * pass that finds the lock taken leaves the pool's retiring to a later pass.
 */
async function retireSurplus(deps: ReconcilerDeps, pool: string, snap: ReconcileSnapshot, pools: Pool[]) {
  return underLock(deps.store.redis, deps.store.keys.retireLock(pool), RETIRE_LOCK_MS, async (lease) => {
    const fresh = planReconcile({ ...snap, records: await deps.runners.list() }).filter(
      (action) => action.kind === "retire" && action.pool === pool,
    );
    return carryOutAll(deps, fresh, pools, new Map(), lease);
  });
}

/**
 * The level-triggered half of runnerhub: one pass reads Docker, GitHub (one paginated runner list
 * per scope) and Redis, plans with planReconcile, and carries the plan out.
 */
export function createReconciler(deps: ReconcilerDeps) {
  const lockKey = deps.store.keys.reconcileLock(deps.engine.name);
  const installations = new Map<string, number>();

  return {
    async runOnce(): Promise<ReconcileSummary> {
      if (!deps.ownsEngine()) return { skipped: true };
      const summary = await underLock(deps.store.redis, lockKey, RECONCILE_LOCK_MS, async (lease) => {
        // A lost engine's runners still count as the pool's supply until they are given up, so
        // this pass then provisions the jobs they were counted for.
        await deps.forgetLostEngines?.().catch(
          swallowInto(deps, {
            where: "reconciler.forget-lost-engines",
            message: "cannot check for lost engines",
            level: "error",
          }),
        );
        const pools = await deps.pools.effective();
        const { snap, warmScopes } = await readSnapshot(deps, installations, pools);
        const plan = await planWithPendingDemand(deps, snap);
        const retiring = new Set(plan.flatMap((action) => (action.kind === "retire" ? [action.pool] : [])));
        const { done: actions, failed: failures } = await carryOutAll(
          deps,
          plan.filter((action) => action.kind !== "retire"),
          pools,
          warmScopes,
          lease,
        );
        let failed = failures;
        for (const pool of retiring) {
          const retired = await retireSurplus(deps, pool, snap, pools);
          if (!retired) continue;
          for (const [kind, count] of Object.entries(retired.done)) actions[kind] = (actions[kind] ?? 0) + count;
          failed += retired.failed;
        }
        if (plan.length > 0) deps.log.info({ engine: deps.engine.name, actions, failed }, "reconcile pass");
        return { skipped: false as const, actions, failed };
      });
      return summary ?? { skipped: true };
    },
  };
}

export type Reconciler = ReturnType<typeof createReconciler>;
