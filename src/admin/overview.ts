import type { Pool } from "../config/pools.js";
import type { Slots } from "../slots/slots.js";
import { crashLoopOf, poolVersion } from "../pools/crash-loop.js";
import type { PoolCatalog } from "../pools/catalog.js";
import { effectivePool, type PoolOverrides } from "../pools/overrides.js";
import { readWarmTarget } from "../pools/warm-signals.js";
import type { Queues } from "../queue/queues.js";
import type { CrashLoopStore } from "../pools/crash-loop-store.js";
import type { DemandLedger } from "../state/demand-ledger.js";
import type { PoolHistoryService } from "../history/pool-history-service.js";
import type { FeedEntry } from "../state/event-feed.js";
import type { ImageRecord } from "../images/policy.js";
import type { RunnerStore } from "../state/runner-store.js";
import type { RunnerRecord } from "../state/runner-store.js";
import { OVERVIEW_EVENTS } from "../tunables.js";
import {
  JOB_STATES,
  type EngineView,
  type FairShareView,
  type JobListState,
  type Overview,
  type PoolView,
} from "./schemas.js";
import { repositoryShares } from "../pools/fair-share.js";
import type { UnmatchedJobStore } from "../pools/unmatched-store.js";
import { engineViews, poolCounts, poolView, selectRunners, type LocalEngineState } from "./views.js";
import type { EngineDirectory } from "../state/engine-directory.js";
import { poolPlacementView, withPlacement } from "./placement-views.js";

export interface OverviewDeps {
  pools: PoolCatalog;
  overrides: PoolOverrides;
  runners: RunnerStore;
  slots: Slots;
  queues: Queues;
  ledger: Pick<DemandLedger, "waitingCount" | "arrivals" | "waiting">;
  feed: { recent(count: number): Promise<FeedEntry[]> };
  /** Workers' heartbeats, the health of engines other processes work on. */
  heartbeats: { ages(): Promise<{ engine: string; ageMs: number }[]> };
  heartbeatTimeoutMs: number;
  /** Runner images per engine, for each pool's image status. */
  imageStore: { list(): Promise<ImageRecord[]> };
  /** Pools whose runners keep ending before a job. */
  crashLoops: Pick<CrashLoopStore, "getMany" | "policy">;
  /** The engine this process works on (worker role), pinged for its health (bounded by DASHBOARD_PING_TIMEOUT_MS). */
  localEngine: { name: string; capacity: number | undefined; ping(): Promise<unknown> } | undefined;
  /** Each pool's last hour, for the dashboard's charts and the warm target. */
  history: Pick<PoolHistoryService, "read">;
  /** Recent queued jobs no pool serves. */
  unmatched: Pick<UnmatchedJobStore, "recent">;
  /** Engines' labels, resources and drain state; pools no engine may serve. */
  engines: Pick<EngineDirectory, "profiles" | "drained" | "usage" | "unplaceable">;
  now: () => number;
}

export interface OverviewReader {
  /** The selected pools with their effective limits and live counts. */
  pools(selected: readonly Pool[]): Promise<PoolView[]>;
  overview(): Promise<Overview>;
  /** The engines as the overview shows them. */
  engines(): Promise<EngineView[]>;
}

type EngineAges = { engine: string; ageMs: number }[];

/** BullMQ's getJobs yields undefined for an entry removed between listing and loading. */
export function present<T>(jobs: readonly (T | undefined)[]): T[] {
  return jobs.filter((job): job is T => job !== undefined && job !== null);
}

/** The provision queue's entries per state the admin API lists. */
export async function queueCounts(queue: Queues["provision"]): Promise<Record<JobListState, number>> {
  const counts = await queue.getJobCounts(...JOB_STATES);
  return Object.fromEntries(JOB_STATES.map((state) => [state, counts[state] ?? 0])) as Record<JobListState, number>;
}

/** Reads the snapshots the admin views are computed from (views.ts holds the logic). */
export function createOverviewReader(deps: OverviewDeps): OverviewReader {
  const provision = deps.queues.provision;

  async function poolViews(selected: readonly Pool[], records: readonly RunnerRecord[]): Promise<PoolView[]> {
    const [overrides, images, crashLoops, unplaceable] = await Promise.all([
      deps.overrides.all(),
      deps.imageStore.list(),
      deps.crashLoops.getMany(selected.map((pool) => pool.name)),
      deps.engines.unplaceable(),
    ]);
    const now = deps.now();
    return Promise.all(
      selected.map(async (pool) => {
        const [holders, parked, waiting, warm] = await Promise.all([
          deps.slots.holders(pool.name, now),
          deps.slots.parkedCount("pool", pool.name),
          deps.ledger.waitingCount(pool.name),
          readWarmTarget(deps, effectivePool(pool, overrides[pool.name]), records, now),
        ]);
        const counts = poolCounts(pool.name, {
          runners: records,
          waiting,
          slotsHeld: holders.length,
          parked,
        });
        const looping = crashLoopOf(crashLoops.get(pool.name), poolVersion(pool), now, deps.crashLoops.policy);
        const crashLoop = looping && { record: looping, logs: await deps.runners.logsOf(looping.lastRunner) };
        const view = {
          ...poolView(pool, overrides[pool.name], counts, warm, images, now, crashLoop),
          placement: poolPlacementView(pool, unplaceable[pool.name], waiting),
        };
        return pool.perRepository ? { ...view, fairShare: await fairShareOf(pool, pool.perRepository) } : view;
      }),
    );
  }

  async function fairShareOf(pool: Pool, perRepository: { maxRunners: number }): Promise<FairShareView> {
    const [slots, waiting] = await Promise.all([
      deps.slots.repositories(pool.name),
      deps.ledger.waiting(pool.name, deps.now()),
    ]);
    return { maxRunnersPerRepository: perRepository.maxRunners, repositories: repositoryShares(slots, waiting) };
  }

  async function localEngine(): Promise<LocalEngineState | undefined> {
    const local = deps.localEngine;
    if (!local) return undefined;
    const reachable = await local.ping().then(
      () => true,
      () => false,
    );
    return { name: local.name, capacity: local.capacity, reachable };
  }

  /** Every engine the overview shows, with placement's view of it. */
  async function engines(records: readonly RunnerRecord[], local: LocalEngineState | undefined, ages: EngineAges) {
    const views = engineViews(records, local, { ages, timeoutMs: deps.heartbeatTimeoutMs });
    const [profiles, drained] = await Promise.all([deps.engines.profiles(), deps.engines.drained()]);
    const usage = Object.fromEntries(
      await Promise.all(views.map(async (view) => [view.name, await deps.engines.usage(view.name)] as const)),
    );
    return withPlacement(views, { profiles, drained, usage });
  }

  return {
    async engines() {
      const [records, local, ages] = await Promise.all([deps.runners.list(), localEngine(), deps.heartbeats.ages()]);
      return engines(records, local, ages);
    },
    async pools(selected) {
      return poolViews(selected, await deps.runners.list());
    },
    async overview() {
      const [records, counts, events, local, ages, history, unmatched] = await Promise.all([
        deps.runners.list(),
        queueCounts(provision),
        deps.feed.recent(OVERVIEW_EVENTS),
        localEngine(),
        deps.heartbeats.ages(),
        deps.history.read(),
        deps.unmatched.recent(),
      ]);
      return {
        at: deps.now(),
        pools: await poolViews(deps.pools.declared(), records),
        engines: await engines(records, local, ages),
        runners: selectRunners(records, undefined),
        queue: { queue: provision.name, counts },
        events,
        history,
        unmatched,
      };
    },
  };
}
