import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { Pool } from "../config/pools.js";
import type { ContainerEngine } from "../docker/engine.js";
import { LABELS } from "../docker/labels.js";
import {
  describeScope,
  targetKey,
  type GitHubRunner,
  type RunnerTarget,
  type RunnersApi,
} from "../github/runners-api.js";
import type { PoolOverrides } from "../pools/overrides.js";
import type { EngineSlots } from "../slots/slots.js";
import { reprovisionJobId, type ProvisionRequest } from "../queue/jobs.js";
import type { DemandLedger } from "../state/demand-ledger.js";
import { reportSwallowed, swallowInto } from "../observability/internal-errors.js";
import type { Metrics } from "../observability/metrics.js";
import { RedisKeys } from "../state/keys.js";
import type { RunnerRecord, RunnerStore } from "../state/runner-store.js";
import { underLock, type Lease } from "../state/lock.js";
import {
  parseScope,
  planReconcile,
  scopesNeedingView,
  targetFromLabels,
  type ReconcileAction,
  type ReconcileSnapshot,
} from "./reconcile-plan.js";
import { runnerLogFields } from "../pools/runner-names.js";
import { observeRunnerOnline } from "../provisioning/runner-online.js";
import { retireRunner } from "./retire-runner.js";
import { stopRunner } from "./stop-runner.js";
import { RECONCILE_LOCK_MS, RETIRE_LOCK_MS } from "../tunables.js";

export interface ReconcilerDeps {
  engine: ContainerEngine;
  /** The engine's Docker ID: records of an earlier engine under its name are not this pass's. */
  engineId: string;
  /** False once another engine took this one's name: from then on no pass runs here. */
  ownsEngine: () => boolean;
  runners: RunnerStore;
  ledger: DemandLedger;
  slots: EngineSlots;
  overrides: PoolOverrides;
  /** The pools as the file declares them, read at each use. */
  currentPools: () => readonly Pool[];
  github: RunnersApi;
  provisionQueue: Queue<ProvisionRequest>;
  /** The exit watcher's cleanup, for containers that exited without an event seen. */
  cleanUpExited(containerId: string, labels: Record<string, string>): Promise<void>;
  redis: Redis;
  prefix: string;
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
 * The level-triggered half of runnerhub: one pass reads Docker, GitHub (one paginated runner list
 * per scope) and Redis, plans with planReconcile, and carries the plan out.
 */
export function createReconciler(deps: ReconcilerDeps) {
  const { log } = deps;
  const keys = new RedisKeys(deps.prefix);
  const lockKey = keys.reconcileLock(deps.engine.name);
  const installations = new Map<string, number>();

  async function warmTarget(pool: Pool, known: readonly RunnerTarget[]): Promise<RunnerTarget | undefined> {
    if (!pool.warmScope) return undefined;
    const scope = parseScope(pool.warmScope);
    const seen = known.find((target) => describeScope(target.scope) === describeScope(scope));
    if (seen) return seen;
    let installationId = installations.get(pool.warmScope);
    if (installationId === undefined) {
      installationId = await deps.github.installationFor(scope);
      installations.set(pool.warmScope, installationId);
    }
    return { installationId, scope };
  }

  async function snapshot(pools: Pool[]): Promise<{ snap: ReconcileSnapshot; warmTargets: Map<string, RunnerTarget> }> {
    const now = deps.now();
    // Slot holders first: a runner provisioned while this pass lists GitHub then shows up in the
    // records read next, so its confirmed slot is never mistaken for a leaked one.
    const poolHolders = new Map<string, string[]>();
    for (const pool of pools) poolHolders.set(pool.name, await deps.slots.confirmedHolders("pool", pool.name));
    const engineHolders = await deps.slots.confirmedHolders("engine", deps.slots.engine.name);
    const [containers, records, known] = await Promise.all([
      deps.engine.listManaged(),
      deps.runners.list(),
      deps.ledger.targets(now),
    ]);
    const warmTargets = new Map<string, RunnerTarget>();
    for (const pool of pools) {
      const target = await warmTarget(pool, known).catch(
        swallowInto(deps, {
          where: "reconciler.warm-target",
          message: "cannot resolve the installation for warm runners",
          fields: { pool: pool.name, warmScope: pool.warmScope },
        }),
      );
      if (target) warmTargets.set(pool.name, target);
    }
    const targets = new Map<string, RunnerTarget>();
    for (const target of scopesNeedingView(
      records,
      { name: deps.engine.name, id: deps.engineId },
      now,
      deps.freshRunnerMs,
    )) {
      targets.set(targetKey(target), target);
    }
    // Every scope served lately is also swept now and then for orphaned registrations, by
    // whichever engine's pass claims it first.
    const served = new Map<string, RunnerTarget>();
    for (const target of [...known, ...records, ...warmTargets.values()]) {
      served.set(targetKey(target), { installationId: target.installationId, scope: target.scope });
    }
    for (const [key, target] of served) {
      if (targets.has(key)) continue;
      if ((await deps.redis.set(keys.reconcileSweep(key), "1", "PX", deps.sweepEveryMs, "NX")) !== "OK") continue;
      targets.set(key, target);
    }
    // A container without a record names its scope in its labels: with Redis emptied, that is
    // all there is to go by, and only GitHub's view decides whether it is adopted or stopped.
    const recorded = new Set(records.map((record) => record.name));
    for (const container of containers) {
      const target = recorded.has(container.name) ? undefined : targetFromLabels(container.labels);
      if (target) targets.set(targetKey(target), target);
    }
    const registrations = new Map<string, { target: RunnerTarget; runners: GitHubRunner[] }>();
    await Promise.all(
      [...targets].map(async ([key, target]) => {
        try {
          registrations.set(key, { target, runners: await deps.github.listRunners(target) });
        } catch (error) {
          // An unlisted scope is left alone this pass: no runner is judged on missing data.
          reportSwallowed(deps, error, {
            where: "reconciler.list-runners",
            message: "cannot list runners; scope skipped this pass",
            fields: { scope: describeScope(target.scope) },
          });
        }
      }),
    );
    const waitingJobs = new Map<string, ProvisionRequest[]>();
    for (const pool of pools) waitingJobs.set(pool.name, await deps.ledger.waiting(pool.name, now));
    return {
      snap: {
        now,
        engine: deps.engine.name,
        engineId: deps.engineId,
        bootstrapTimeoutMs: deps.bootstrapTimeoutMs,
        pools,
        containers,
        records,
        registrations,
        waitingJobs,
        pendingDemand: new Map(),
        slotHolders: { pools: poolHolders, engine: engineHolders },
      },
      warmTargets,
    };
  }

  async function carryOut(
    action: ReconcileAction,
    pools: Pool[],
    warmTargets: Map<string, RunnerTarget>,
  ): Promise<void> {
    switch (action.kind) {
      case "clean-exited":
        return deps.cleanUpExited(action.containerId, action.labels);
      case "stop": {
        if (action.reason !== "max-lifetime" && (await stillRegistered(action.runnerName, action.containerId))) return;
        log.info({ ...runnerLogFields(action.runnerName), reason: action.reason }, "stopping runner");
        return stopRunner(deps, action.runnerName, action.containerId, action.reason);
      }
      case "retire":
        await retireRunner(deps, action);
        return;
      case "adopt":
        return adopt(action.record, action.fresh, pools);
      case "delete-registration":
        if ((await deps.github.deleteRunner(action.target, action.runnerId)) === "deleted") {
          log.info({ ...runnerLogFields(action.runnerName), runnerId: action.runnerId }, "orphan registration deleted");
        }
        return;
      case "forget-record":
        log.warn({ pool: action.pool, runnerName: action.runnerName }, "runner record without a container; forgotten");
        await deps.runners.retire(action.runnerName, {
          exitedAt: deps.now(),
          exitCode: undefined,
          oomKilled: false,
          reason: "no-container",
        });
        return deps.slots.release(action.pool, action.runnerName);
      case "release-slot":
        if (
          (await deps.runners.get(action.runnerName)) ||
          (await deps.engine.status(action.runnerName)).kind !== "missing"
        ) {
          return;
        }
        log.warn({ ...runnerLogFields(action.runnerName), slot: action.slot }, "leaked capacity slot released");
        await deps.slots.releaseFrom(action.slot.kind, action.slot.name, action.runnerName);
        await deps.slots.wake(action.slot.kind === "pool" ? action.slot.name : undefined);
        return;
      case "mark": {
        const record = await deps.runners.update(
          action.runnerName,
          { state: action.state, runnerId: action.runnerId },
          { keepBusy: true },
        );
        if (record) await observeRunnerOnline(record, deps);
        return;
      }
      case "provision":
        for (const request of action.requests) {
          const again = { ...request, enqueuedAt: deps.now(), parkedAt: undefined };
          await deps.provisionQueue.add("provision", again, {
            jobId: reprovisionJobId(request.githubJobId, deps.now()),
          });
        }
        log.warn(
          { pool: action.pool, jobIds: action.requests.map((request) => request.githubJobId) },
          "jobs left without a runner; provisioning again",
        );
        return;
      case "warm": {
        const pool = pools.find((candidate) => candidate.name === action.pool);
        const target = warmTargets.get(action.pool);
        if (!pool || !target) return;
        const owner = target.scope.kind === "org" ? target.scope.org : target.scope.owner;
        const repo = target.scope.kind === "repo" ? target.scope.repo : "";
        for (let slot = 1; slot <= action.count; slot++) {
          // Fixed ids per slot make concurrent passes (several engines) ask for each warm runner once.
          await deps.provisionQueue.add(
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
              queuedAt: deps.now(),
              enqueuedAt: deps.now(),
            },
            { jobId: `warm-${pool.name}-${slot}`, removeOnComplete: true, removeOnFail: true },
          );
        }
        log.info({ pool: pool.name, count: action.count }, "warm runners requested");
        return;
      }
    }
  }

  /**
   * A paginated list can skip a runner while others are deleted: before a runner is stopped for
   * lacking a registration (or a record, after Redis lost data), GitHub is asked about this one,
   * by the id its record or its container's labels hold, else by name in a fresh listing.
   */
  async function stillRegistered(name: string, containerId: string): Promise<boolean> {
    const record = await deps.runners.get(name);
    const container = record ? undefined : (await deps.engine.listManaged()).find((c) => c.id === containerId);
    const target = record ?? (container && targetFromLabels(container.labels));
    if (!target) return false;
    const labelled = Number(container?.labels[LABELS.runnerId]);
    const runnerId = record?.runnerId ?? (Number.isSafeInteger(labelled) && labelled > 0 ? labelled : undefined);
    if (runnerId !== undefined) return (await deps.github.getRunner(target, runnerId)) !== undefined;
    return (await deps.github.listRunners(target)).some((registration) => registration.name === name);
  }

  /**
   * Writes the record of a live runner container found without one, then takes its slot if the
   * pool and engine have room. Without room the runner is drained like a surplus one (its
   * registration deleted first, so a runner that took a job stays); a busy one runs its job out.
   */
  async function adopt(record: RunnerRecord, fresh: boolean, pools: Pool[]): Promise<void> {
    const written = fresh
      ? await deps.runners.putIfAbsent(record)
      : (await deps.runners.update(record.name, { containerId: record.containerId })) !== undefined;
    if (!written) return;
    const pool = pools.find((candidate) => candidate.name === record.pool);
    const slot = pool ? await deps.slots.confirm(pool, record.name) : "pool-full";
    const fields = { runnerName: record.name, containerId: record.containerId, state: record.state, slot };
    if (slot === "ok") {
      log.warn(fields, "runner container adopted");
      return;
    }
    if (record.state === "busy" || record.containerId === undefined) {
      log.warn(fields, "runner container adopted without a slot; it runs its job out");
      return;
    }
    log.warn(fields, "runner container adopted without room; drained");
    if (record.runnerId === undefined) {
      return stopRunner(deps, record.name, record.containerId, "surplus");
    }
    await retireRunner(deps, {
      kind: "retire",
      pool: record.pool,
      runnerName: record.name,
      containerId: record.containerId,
      runnerId: record.runnerId,
      target: { installationId: record.installationId, scope: record.scope },
      reason: "surplus",
    });
  }

  async function carryOutAll(
    plan: ReconcileAction[],
    pools: Pool[],
    warmTargets: Map<string, RunnerTarget>,
    lease: Lease,
  ) {
    const done: Record<string, number> = {};
    let failed = 0;
    for (const action of plan) {
      // A pass whose lock was lost (a call outlived its renewals) stops: another pass may act now.
      lease.assertHeld();
      try {
        await carryOut(action, pools, warmTargets);
        done[action.kind] = (done[action.kind] ?? 0) + 1;
        deps.metrics.reconcileActions.inc({ kind: action.kind, outcome: "ok" });
      } catch (error) {
        failed++;
        deps.metrics.reconcileActions.inc({ kind: action.kind, outcome: "failed" });
        log.error(
          { err: error, action: action.kind, ...("runnerName" in action ? runnerLogFields(action.runnerName) : {}) },
          "reconcile action failed",
        );
      }
    }
    return { done, failed };
  }

  /**
   * Runners on their way only lower what a pass provisions: a plan made as if none were coming
   * that provisions nothing is the plan. Only then are the pending provision-queue entries loaded
   * and counted, so a pass costs nothing per entry unless jobs were left without a runner.
   */
  async function planWithPendingDemand(snap: ReconcileSnapshot): Promise<ReconcileAction[]> {
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
  async function retireSurplus(pool: string, snap: ReconcileSnapshot, pools: Pool[]) {
    return underLock(deps.redis, keys.retireLock(pool), RETIRE_LOCK_MS, async (lease) => {
      const fresh = planReconcile({ ...snap, records: await deps.runners.list() }).filter(
        (action) => action.kind === "retire" && action.pool === pool,
      );
      return carryOutAll(fresh, pools, new Map(), lease);
    });
  }

  return {
    async runOnce(): Promise<ReconcileSummary> {
      if (!deps.ownsEngine()) return { skipped: true };
      const summary = await underLock(deps.redis, lockKey, RECONCILE_LOCK_MS, async (lease) => {
        // A lost engine's runners still count as the pool's supply until they are given up, so
        // this pass then provisions the jobs they were counted for.
        await deps.forgetLostEngines?.().catch(
          swallowInto(deps, {
            where: "reconciler.forget-lost-engines",
            message: "cannot check for lost engines",
            level: "error",
          }),
        );
        const pools = await deps.overrides.effective(deps.currentPools());
        const { snap, warmTargets } = await snapshot(pools);
        const plan = await planWithPendingDemand(snap);
        const retiring = new Set(plan.flatMap((action) => (action.kind === "retire" ? [action.pool] : [])));
        const { done: actions, failed: failures } = await carryOutAll(
          plan.filter((action) => action.kind !== "retire"),
          pools,
          warmTargets,
          lease,
        );
        let failed = failures;
        for (const pool of retiring) {
          const retired = await retireSurplus(pool, snap, pools);
          if (!retired) continue;
          for (const [kind, count] of Object.entries(retired.done)) actions[kind] = (actions[kind] ?? 0) + count;
          failed += retired.failed;
        }
        if (plan.length > 0) log.info({ engine: deps.engine.name, actions, failed }, "reconcile pass");
        return { skipped: false as const, actions, failed };
      });
      return summary ?? { skipped: true };
    },
  };
}

export type Reconciler = ReturnType<typeof createReconciler>;
