import type { Pool } from "../config/pools.js";
import type { DemandLedger } from "../state/demand-ledger.js";
import type { RunnerRecord, RunnerStore } from "../state/runner-store.js";
import { WARM_DEFAULT_BOOT_SECONDS, WARM_LOOKAHEAD_MS, WARM_SHORT_WINDOW_MS } from "../tunables.js";
import { decideWarmTarget, type WarmInputs, type WarmTarget } from "./warm-target.js";

export interface WarmSignalsDeps {
  ledger: Pick<DemandLedger, "arrivals" | "waitingCount">;
  runners: Pick<RunnerStore, "bootSeconds">;
}

/** Reads what one pool's warm target is decided from: its demand, boot time and free slots. */
async function warmInputs(
  deps: WarmSignalsDeps,
  pool: Pool,
  records: readonly RunnerRecord[],
  now: number,
): Promise<WarmInputs> {
  const adaptive = pool.warm === "adaptive";
  const [waiting, arrivals, bootSeconds] = await Promise.all([
    deps.ledger.waitingCount(pool.name),
    adaptive
      ? deps.ledger.arrivals(pool.name, now, pool.forecastWindow, WARM_SHORT_WINDOW_MS, WARM_LOOKAHEAD_MS)
      : undefined,
    adaptive ? deps.runners.bootSeconds(pool.name) : undefined,
  ]);
  const busy = records.filter((record) => record.pool === pool.name && record.state === "busy").length;
  return {
    now,
    recentArrivals: arrivals?.recent ?? 0,
    lateArrivals: arrivals?.lately ?? 0,
    shortWindowMs: WARM_SHORT_WINDOW_MS,
    sameHour: arrivals?.sameHour,
    bootSeconds,
    defaultBootSeconds: WARM_DEFAULT_BOOT_SECONDS,
    freeSlots: pool.maxRunners - busy - waiting,
  };
}

/** The pool's warm target and its reason (the pool as given: the effective one, overrides applied). */
export async function readWarmTarget(
  deps: WarmSignalsDeps,
  pool: Pool,
  records: readonly RunnerRecord[],
  now: number,
): Promise<WarmTarget> {
  return decideWarmTarget(pool, await warmInputs(deps, pool, records, now));
}

/** Each pool's warm target and its reason (the pools as given: effective ones for the reconciler). */
export async function readWarmTargets(
  deps: WarmSignalsDeps,
  pools: readonly Pool[],
  records: readonly RunnerRecord[],
  now: number,
): Promise<Map<string, WarmTarget>> {
  const targets = await Promise.all(
    pools.map(async (pool) => [pool.name, await readWarmTarget(deps, pool, records, now)] as const),
  );
  return new Map(targets);
}
