import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Redis, Result } from "ioredis";

/**
 * runnerhub's Lua scripts, one .lua file each beside this module (the build copies them to dist);
 * each file's header states its KEYS, ARGV and reply. They are read once, when this module loads,
 * and defined as ioredis commands, which run by EVALSHA and send the script only when Redis lacks
 * it. Names carry a prefix so they never meet BullMQ's commands on a shared connection.
 */
const SCRIPTS = {
  runnerhubMergeRunner: { file: "merge-runner.lua", numberOfKeys: 2 },
  runnerhubRecordUsage: { file: "record-usage.lua", numberOfKeys: 1 },
  runnerhubTakeSlot: { file: "take-slot.lua", numberOfKeys: 5 },
  // Two keys per candidate engine: their count goes first in each call.
  runnerhubAdmitRunner: { file: "admit-runner.lua", numberOfKeys: undefined },
  runnerhubParkByRepository: { file: "park-by-repository.lua", numberOfKeys: 2 },
  runnerhubWakeFair: { file: "wake-fair.lua", numberOfKeys: 4 },
  runnerhubClaimRedelivery: { file: "claim-redelivery.lua", numberOfKeys: 1 },
  runnerhubReleaseRedelivery: { file: "release-redelivery.lua", numberOfKeys: 1 },
  runnerhubReleaseLock: { file: "release-lock.lua", numberOfKeys: 1 },
  runnerhubPutRunner: { file: "put-runner.lua", numberOfKeys: 3 },
  runnerhubRetireRunner: { file: "retire-runner.lua", numberOfKeys: 9 },
  runnerhubRecordQueued: { file: "record-queued.lua", numberOfKeys: 6 },
  runnerhubSettleDemand: { file: "settle-demand.lua", numberOfKeys: 4 },
  runnerhubOverflowDemand: { file: "overflow-demand.lua", numberOfKeys: 5 },
  runnerhubTakeGitHubBudget: { file: "take-github-budget.lua", numberOfKeys: 2 },
  runnerhubPauseGitHubBudget: { file: "pause-github-budget.lua", numberOfKeys: 2 },
  runnerhubEngineBeat: { file: "engine-beat.lua", numberOfKeys: 1 },
  runnerhubReadHeartbeats: { file: "read-heartbeats.lua", numberOfKeys: 1 },
  runnerhubForgetEngine: { file: "forget-engine.lua", numberOfKeys: 1 },
  runnerhubRenewLock: { file: "renew-lock.lua", numberOfKeys: 1 },
  runnerhubCompareAndSet: { file: "compare-and-set.lua", numberOfKeys: 1 },
} as const;

/** What take-slot.lua answers: the slot is taken (or would be), or which ceiling refused it. */
export type Reservation = "ok" | "repo-full" | "pool-full" | "engine-full";

/** What admit-runner.lua answers: admitted here, better placed on another engine, or no room anywhere. */
export type Admission = "ok" | "elsewhere" | "engine-full";

declare module "ioredis" {
  interface RedisCommander<Context> {
    runnerhubMergeRunner(
      runner: string,
      freePoolPrefix: string,
      change: string,
      mode: "keep-busy" | "",
    ): Result<string | null, Context>;
    runnerhubRecordUsage(runner: string, peakMemoryBytes: number, cpuSeconds: number): Result<0 | 1, Context>;
    runnerhubTakeSlot(
      poolSlots: string,
      engineSlots: string,
      overrides: string,
      slotRepos: string,
      repoSlotsPrefix: string,
      pool: string,
      fileMaxRunners: number,
      engineCapacity: number,
      runner: string,
      leaseMs: number,
      mode: "reserve" | "check" | "confirm",
      repository: string,
      repoMaxRunners: number,
    ): Result<Reservation, Context>;
    /** The number of keys first (two per candidate engine), then keys and arguments as admit-runner.lua states. */
    runnerhubAdmitRunner(
      numberOfKeys: number,
      ...keysAndArgs: (string | number)[]
    ): Result<[Admission, string], Context>;
    runnerhubParkByRepository(
      rotation: string,
      parkedPrefix: string,
      repository: string,
      entry: string,
      queuedAt: number,
    ): Result<0 | 1, Context>;
    runnerhubWakeFair(
      parked: string,
      rotation: string,
      parkedPrefix: string,
      repoSlotsPrefix: string,
      repoMaxRunners: number,
    ): Result<[string, string] | null, Context>;
    runnerhubClaimRedelivery(count: string, expected: string, ttlMs: string): Result<0 | 1, Context>;
    runnerhubReleaseRedelivery(count: string, expected: string): Result<0 | 1, Context>;
    runnerhubReleaseLock(lock: string, token: string): Result<0 | 1, Context>;
    runnerhubCompareAndSet(key: string, expected: string, value: string, ttlMs: number): Result<0 | 1, Context>;
    runnerhubEngineBeat(
      heartbeats: string,
      engine: string,
      engineId: string,
      timeoutMs: number,
      answered: "1" | "0",
    ): Result<["ok" | "new" | "taken", string], Context>;
    runnerhubReadHeartbeats(heartbeats: string, timeoutMs: number, ...engines: string[]): Result<string[], Context>;
    runnerhubForgetEngine(heartbeats: string, engine: string, beat: string): Result<0 | 1, Context>;
    runnerhubPutRunner(
      record: string,
      live: string,
      freePool: string,
      json: string,
      name: string,
      mode: "absent" | "",
    ): Result<0 | 1, Context>;
    runnerhubRetireRunner(
      record: string,
      live: string,
      exit: string,
      freePoolPrefix: string,
      logs: string,
      poolSlotsPrefix: string,
      engineSlotsPrefix: string,
      slotReposPrefix: string,
      repoSlotsRoot: string,
      name: string,
      exitFields: string,
      keepSeconds: number,
      ...logText: string[]
    ): Result<string | null, Context>;
    runnerhubTakeGitHubBudget(
      installationBucket: string,
      pause: string,
      burstPoints: number,
      pointsPerMs: number,
      cost: number,
      floor: number,
    ): Result<number, Context>;
    runnerhubPauseGitHubBudget(
      installationBucket: string,
      pause: string,
      pauseMs: number,
      burstPoints: number,
      pointsPerMs: number,
    ): Result<number, Context>;
    runnerhubRenewLock(lock: string, token: string, leaseMs: number): Result<0 | 1, Context>;
    runnerhubRecordQueued(
      queuedJobs: string,
      queuedDemand: string,
      targets: string,
      settledJob: string,
      feed: string,
      overflowMark: string,
      queuedAt: number,
      githubJobId: string,
      request: string,
      targetKey: string,
      target: string,
      feedEntry: string,
      feedMaxLength: number,
    ): Result<1 | 0 | -1, Context>;
    runnerhubSettleDemand(
      queuedJobs: string,
      queuedDemand: string,
      settledJob: string,
      overflowMark: string,
      githubJobId: string,
      keepSeconds: number,
    ): Result<[string | null, string | null], Context>;
    runnerhubOverflowDemand(
      fromJobs: string,
      fromDemand: string,
      toJobs: string,
      toDemand: string,
      overflowMark: string,
      githubJobId: string,
      request: string,
      toPool: string,
      keepSeconds: number,
    ): Result<0 | 1, Context>;
  }
}

const definitions = Object.entries(SCRIPTS).map(([name, { file, numberOfKeys }]) => {
  const path = fileURLToPath(new URL(file, import.meta.url));
  try {
    return { name, numberOfKeys, lua: readFileSync(path, "utf8") };
  } catch (error) {
    throw new Error(`cannot read the Lua script ${path} (${(error as Error).message}); run npm run build`, {
      cause: error,
    });
  }
});

/**
 * Defines runnerhub's scripts on a client, once: defining one again would forget that Redis
 * already has it, and its next call would send the whole script instead of its SHA (every store
 * and every lock release calls this on the shared connection).
 */
export function defineScripts(redis: Redis): Redis {
  for (const { name, numberOfKeys, lua } of definitions) {
    if (!(name in redis)) redis.defineCommand(name, { lua, numberOfKeys });
  }
  return redis;
}
