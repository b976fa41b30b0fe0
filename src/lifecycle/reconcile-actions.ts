import type { Pool } from "../config/pools.js";
import { LABELS } from "../docker/labels.js";
import type { RunnerTarget } from "../scope/runner-scope.js";
import { runnerLogFields } from "../pools/runner-names.js";
import { requestWarmRunners } from "../pools/warm.js";
import { observeRunnerOnline } from "../provisioning/runner-online.js";
import { reprovisionJobId } from "../queue/jobs.js";
import type { Lease } from "../state/lock.js";
import type { RunnerRecord } from "../state/runner-store.js";
import { targetFromLabels, type ReconcileAction } from "./reconcile-plan.js";
import type { ReconcilerDeps } from "./reconciler.js";
import { retireRunner } from "./retire-runner.js";
import { stopRunner } from "./stop-runner.js";

/** The effectful half of a reconcile pass: each planned action carried out against Docker, GitHub and Redis. */

async function carryOut(
  deps: ReconcilerDeps,
  action: ReconcileAction,
  pools: Pool[],
  warmScopes: Map<string, RunnerTarget>,
): Promise<void> {
  switch (action.kind) {
    case "clean-exited":
      return deps.cleanUpExited(action.containerId, action.labels);
    case "stop": {
      if (action.reason !== "max-lifetime" && (await stillRegistered(deps, action.runnerName, action.containerId)))
        return;
      deps.log.info({ ...runnerLogFields(action.runnerName), reason: action.reason }, "stopping runner");
      return stopRunner(deps, action.runnerName, action.containerId, action.reason);
    }
    case "retire":
      await retireRunner(deps, action);
      return;
    case "adopt":
      return adopt(deps, action.record, action.fresh, pools);
    case "delete-registration":
      if ((await deps.github.deleteRunner(action.target, action.runnerId)) === "deleted") {
        deps.log.info(
          { ...runnerLogFields(action.runnerName), runnerId: action.runnerId },
          "orphan registration deleted",
        );
      }
      return;
    case "forget-record":
      deps.log.warn(
        { pool: action.pool, runnerName: action.runnerName },
        "runner record without a container; forgotten",
      );
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
      deps.log.warn({ ...runnerLogFields(action.runnerName), slot: action.slot }, "leaked capacity slot released");
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
      deps.log.warn(
        { pool: action.pool, jobIds: action.requests.map((request) => request.githubJobId) },
        "jobs left without a runner; provisioning again",
      );
      return;
    case "warm": {
      const pool = pools.find((candidate) => candidate.name === action.pool);
      const target = warmScopes.get(action.pool);
      if (!pool || !target) return;
      await requestWarmRunners(deps.provisionQueue, pool, target, action.count, deps.now());
      deps.log.info({ pool: pool.name, count: action.count }, "warm runners requested");
      return;
    }
  }
}

/**
 * A paginated list can skip a runner while others are deleted: before a runner is stopped for
 * lacking a registration (or a record, after Redis lost data), GitHub is asked about this one,
 * by the id its record or its container's labels hold, else by name in a fresh listing.
 */
async function stillRegistered(deps: ReconcilerDeps, name: string, containerId: string): Promise<boolean> {
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
async function adopt(deps: ReconcilerDeps, record: RunnerRecord, fresh: boolean, pools: Pool[]): Promise<void> {
  const written = fresh
    ? await deps.runners.putIfAbsent(record)
    : (await deps.runners.update(record.name, { containerId: record.containerId })) !== undefined;
  if (!written) return;
  const pool = pools.find((candidate) => candidate.name === record.pool);
  const slot = pool ? await deps.slots.confirm(pool, record.name) : "pool-full";
  const fields = { runnerName: record.name, containerId: record.containerId, state: record.state, slot };
  if (slot === "ok") {
    deps.log.warn(fields, "runner container adopted");
    return;
  }
  if (record.state === "busy" || record.containerId === undefined) {
    deps.log.warn(fields, "runner container adopted without a slot; it runs its job out");
    return;
  }
  deps.log.warn(fields, "runner container adopted without room; drained");
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

export async function carryOutAll(
  deps: ReconcilerDeps,
  plan: ReconcileAction[],
  pools: Pool[],
  warmScopes: Map<string, RunnerTarget>,
  lease: Lease,
) {
  const done: Record<string, number> = {};
  let failed = 0;
  for (const action of plan) {
    // A pass whose lock was lost (a call outlived its renewals) stops: another pass may act now.
    lease.assertHeld();
    try {
      await carryOut(deps, action, pools, warmScopes);
      done[action.kind] = (done[action.kind] ?? 0) + 1;
      deps.metrics.reconcileActions.inc({ kind: action.kind, outcome: "ok" });
    } catch (error) {
      failed++;
      deps.metrics.reconcileActions.inc({ kind: action.kind, outcome: "failed" });
      deps.log.error(
        { err: error, action: action.kind, ...("runnerName" in action ? runnerLogFields(action.runnerName) : {}) },
        "reconcile action failed",
      );
    }
  }
  return { done, failed };
}
