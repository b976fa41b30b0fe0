import type { Pool } from "../config/pools.js";
import type { PoolCatalog } from "../pools/catalog.js";
import type { DemandLedger } from "../state/demand-ledger.js";
import type { RunnerStore } from "../state/runner-store.js";
import { pickupPoints, poolSample, sampleTime, type PoolHistory } from "./pool-history.js";
import type { PoolHistoryStore } from "./pool-history-store.js";

/**
 * How many idle runners a pool aims to keep now, given the pool as it applies (overrides
 * included); it may read what it needs (demand history, boot times) from Redis.
 */
export type WarmTargetOf = (pool: Pool) => Promise<number>;

export interface PoolHistoryDeps {
  pools: Pick<PoolCatalog, "effective">;
  runners: Pick<RunnerStore, "list">;
  ledger: Pick<DemandLedger, "waitingCount">;
  store: PoolHistoryStore;
  warmTarget: WarmTargetOf;
  /** The sample interval: samples are named by its start, so every process names a moment alike. */
  sampleEveryMs: number;
  /** How far back the charts look, and what each pickup point summarises. */
  windowMs: number;
  pickupBucketMs: number;
  now: () => number;
}

export interface PoolHistoryService {
  /** Samples every pool now; a sample another process took for this interval stays. Returns the pools sampled here. */
  sample(): Promise<string[]>;
  /** Every pool's last window, for the charts. */
  read(): Promise<PoolHistory[]>;
}

async function sampleAll(deps: PoolHistoryDeps): Promise<string[]> {
  const [pools, runners] = await Promise.all([deps.pools.effective(), deps.runners.list()]);
  const at = sampleTime(deps.now(), deps.sampleEveryMs);
  const kept = await Promise.all(
    pools.map(async (pool) => {
      const [waiting, target] = await Promise.all([deps.ledger.waitingCount(pool.name), deps.warmTarget(pool)]);
      const sample = poolSample(pool.name, at, runners, waiting, target);
      return (await deps.store.recordSample(pool.name, sample)) ? [pool.name] : [];
    }),
  );
  return kept.flat();
}

async function readAll(deps: PoolHistoryDeps): Promise<PoolHistory[]> {
  const pools = await deps.pools.effective();
  const to = deps.now();
  const from = to - deps.windowMs;
  return Promise.all(
    pools.map(async (pool) => {
      const [samples, pickups, target] = await Promise.all([
        deps.store.samples(pool.name, from),
        deps.store.pickups(pool.name, from),
        deps.warmTarget(pool),
      ]);
      return {
        pool: pool.name,
        from,
        to,
        target,
        samples,
        pickups: pickupPoints(pickups, from, deps.pickupBucketMs),
      };
    }),
  );
}

/**
 * Each pool's last hour: the periodic schedule samples it (one process per run, and one sample
 * per interval whoever takes it), the intake keeps its pickups, the dashboard reads both.
 */
export function createPoolHistory(deps: PoolHistoryDeps): PoolHistoryService {
  return { sample: () => sampleAll(deps), read: () => readAll(deps) };
}
