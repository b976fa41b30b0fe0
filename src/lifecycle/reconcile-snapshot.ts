import type { Pool } from "../config/pools.js";
import type { GitHubRunner } from "../github/runners-api.js";
import { describeScope, targetKey, type RunnerTarget } from "../scope/runner-scope.js";
import { reportSwallowed, swallowInto } from "../observability/internal-errors.js";
import type { ProvisionRequest } from "../queue/jobs.js";
import { readWarmTargets } from "../pools/warm-signals.js";
import { parseScope, scopesNeedingView, targetFromLabels, type ReconcileSnapshot } from "./reconcile-plan.js";
import type { ReconcilerDeps } from "./reconciler.js";

async function warmScope(
  deps: ReconcilerDeps,
  installations: Map<string, number>,
  pool: Pool,
  known: readonly RunnerTarget[],
): Promise<RunnerTarget | undefined> {
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

/**
 * What one pass knows: the slot holders, containers, records and demand of this engine, and
 * GitHub's view of each scope that needs one. `installations` caches the warm scopes' installations.
 */
export async function readSnapshot(
  deps: ReconcilerDeps,
  installations: Map<string, number>,
  pools: Pool[],
): Promise<{ snap: ReconcileSnapshot; warmScopes: Map<string, RunnerTarget> }> {
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
  const warmScopes = new Map<string, RunnerTarget>();
  for (const pool of pools) {
    const target = await warmScope(deps, installations, pool, known).catch(
      swallowInto(deps, {
        where: "reconciler.warm-target",
        message: "cannot resolve the installation for warm runners",
        fields: { pool: pool.name, warmScope: pool.warmScope },
      }),
    );
    if (target) warmScopes.set(pool.name, target);
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
  for (const target of [...known, ...records, ...warmScopes.values()]) {
    served.set(targetKey(target), { installationId: target.installationId, scope: target.scope });
  }
  for (const [key, target] of served) {
    if (targets.has(key)) continue;
    if ((await deps.store.redis.set(deps.store.keys.reconcileSweep(key), "1", "PX", deps.sweepEveryMs, "NX")) !== "OK")
      continue;
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
  const warmTargets = await readWarmTargets({ ledger: deps.ledger, runners: deps.runners }, pools, records, now);
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
      warmTargets: new Map([...warmTargets].map(([pool, { target }]) => [pool, target])),
      slotHolders: { pools: poolHolders, engine: engineHolders },
    },
    warmScopes,
  };
}
