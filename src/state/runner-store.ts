import type { RunnerScope } from "../scope/runner-scope.js";
import { CLEANUP_CLAIM_MS, EXIT_HISTORY_SECONDS, WARM_BOOT_SAMPLES } from "../tunables.js";
import type { StoreContext } from "./store-context.js";

export type RunnerState = "starting" | "idle" | "busy";

export interface RunnerRecord {
  name: string;
  pool: string;
  engine: string;
  /**
   * The Docker engine ID under that name when the runner was made: a worker that took over a
   * name (its engine replaced, or a paused worker's name claimed) tells its runners from the
   * earlier engine's. Absent on records written before it existed.
   */
  engineId?: string;
  installationId: number;
  scope: RunnerScope;
  /** The job whose webhook caused this runner; it may end up taking another job of the pool. */
  githubJobId: number;
  runnerId: number | undefined;
  containerId: string | undefined;
  state: RunnerState;
  /** The job the runner actually took, from the in_progress webhook. */
  busyJobId: number | undefined;
  /** That job as the in_progress webhook described it: what re-running it after an OOM kill needs. */
  busyJob?: BusyJob;
  createdAt: number;
  /** When its container started. */
  startedAt?: number;
  /** When GitHub reported the runner's job completed. */
  completedAt: number | undefined;
  /** Why runnerhub is taking this runner down (drained, idle, max lifetime), once it decided to. */
  retiring?: string;
  /** owner/repo of the job it runs, else of the job it was made for. */
  repository?: string;
  /**
   * The provision-queue entry that made this runner: a re-run of that entry (its worker was
   * killed mid-way) recognises its leftovers and adopts or undoes them.
   */
  provisionEntry?: string;
  /** The job size (a size label of its pool) the runner was made for; absent: the pool's own resources. */
  size?: string;
  /** The most the container used, from Docker stats readings while it ran (and at its end). */
  usage?: RunnerUsage;
}

export interface BusyJob {
  runId: number;
  /** The job's name in its workflow run; a re-run keeps it (the job id changes). */
  name: string;
  owner: string;
  repo: string;
  labels: string[];
}

export interface RunnerUsage {
  peakMemoryBytes: number;
  cpuSeconds: number;
}

export interface RunnerExitRecord extends RunnerRecord {
  exitedAt: number;
  exitCode: number | undefined;
  oomKilled: boolean;
  reason: string;
  /** The job this runner was OOM-killed in was re-run on this pool (pool oomRetryPool). */
  rerun?: { pool: string; at: number };
}

/** What a clean-up adds to a runner's record when it retires it. */
export type RunnerExit = Omit<RunnerExitRecord, keyof RunnerRecord> & Pick<RunnerRecord, "usage">;

/** Whether a record is a runner of this engine: its name, and its engine ID where recorded. */
export function isOnEngine(
  record: Pick<RunnerRecord, "engine" | "engineId">,
  engine: string,
  engineId: string,
): boolean {
  return record.engine === engine && (record.engineId === undefined || record.engineId === engineId);
}

/** Runner records in Redis: one JSON string per runner, the set of the live ones, and per pool the set of its free ones. */
export class RunnerStore {
  constructor(private readonly store: StoreContext) {}

  async put(record: RunnerRecord): Promise<void> {
    await this.write(record, "");
  }

  /** Writes a record only where there is none (adopting a container); false when one exists. */
  async putIfAbsent(record: RunnerRecord): Promise<boolean> {
    return (await this.write(record, "absent")) === 1;
  }

  private write(record: RunnerRecord, mode: "absent" | ""): Promise<0 | 1> {
    return this.store.redis.runnerhubPutRunner(
      this.store.keys.runner(record.name),
      this.store.keys.runners,
      this.store.keys.freeRunnersOfPool(record.pool),
      JSON.stringify(record),
      record.name,
      mode,
    );
  }

  async get(name: string): Promise<RunnerRecord | undefined> {
    const text = await this.store.redis.get(this.store.keys.runner(name));
    return text ? (JSON.parse(text) as RunnerRecord) : undefined;
  }

  /**
   * Merges a change into an existing record atomically; undefined when there is no such runner.
   * keepBusy: a state read from an older snapshot never overwrites the busy state a webhook set.
   */
  async update(
    name: string,
    change: Partial<Omit<RunnerRecord, "name">>,
    options: { keepBusy?: boolean } = {},
  ): Promise<RunnerRecord | undefined> {
    const mode = options.keepBusy ? "keep-busy" : "";
    const text = await this.store.redis.runnerhubMergeRunner(
      this.store.keys.runner(name),
      this.store.keys.freeRunnersOfPoolPrefix,
      JSON.stringify(change),
      mode,
    );
    return text ? (JSON.parse(text) as RunnerRecord) : undefined;
  }

  async list(): Promise<RunnerRecord[]> {
    return this.load(await this.store.redis.smembers(this.store.keys.runners));
  }

  /**
   * The pool's runners that can still take a job (starting or idle, not retiring): what a provision
   * weighs demand against, read without the pool's busy runners, however many there are.
   */
  async listFree(pool: string): Promise<RunnerRecord[]> {
    return this.load(await this.store.redis.smembers(this.store.keys.freeRunnersOfPool(pool)));
  }

  private async load(names: string[]): Promise<RunnerRecord[]> {
    if (names.length === 0) return [];
    const texts = await this.store.redis.mget(names.map((name) => this.store.keys.runner(name)));
    return texts.flatMap((text) => (text ? [JSON.parse(text) as RunnerRecord] : []));
  }

  /** Raises the runner's recorded peak memory and CPU time to this reading; false when there is no such runner. */
  async recordUsage(name: string, usage: RunnerUsage): Promise<boolean> {
    const updated = await this.store.redis.runnerhubRecordUsage(
      this.store.keys.runner(name),
      Math.round(usage.peakMemoryBytes),
      usage.cpuSeconds,
    );
    return updated === 1;
  }

  /**
   * Removes a live record, frees its pool and engine slots in the same step (a reader never sees a
   * runner gone but its slot held), and keeps what happened to it (and its last log lines, masked)
   * for a day. The caller still wakes the demand waiting for the slot (Slots.wake).
   */
  async retire(name: string, exit: RunnerExit, logs?: string): Promise<RunnerExitRecord | undefined> {
    const history = await this.store.redis.runnerhubRetireRunner(
      this.store.keys.runner(name),
      this.store.keys.runners,
      this.store.keys.runnerExit(name),
      this.store.keys.freeRunnersOfPoolPrefix,
      this.store.keys.runnerLogs(name),
      this.store.keys.slotsPrefix("pool"),
      this.store.keys.slotsPrefix("engine"),
      this.store.keys.slotReposPrefix,
      this.store.keys.repoSlotsRoot,
      name,
      JSON.stringify(exit),
      EXIT_HISTORY_SECONDS,
      ...(logs === undefined ? [] : [logs]),
    );
    return history ? (JSON.parse(history) as RunnerExitRecord) : undefined;
  }

  /** The last log lines kept when the runner's container was removed. */
  async logsOf(name: string): Promise<string | undefined> {
    return (await this.store.redis.get(this.store.keys.runnerLogs(name))) ?? undefined;
  }

  /** True for the one caller that gets to clean up after this container (per minute). */
  async claimCleanup(containerId: string): Promise<boolean> {
    return (
      (await this.store.redis.set(this.store.keys.cleanupClaim(containerId), "1", "PX", CLEANUP_CLAIM_MS, "NX")) ===
      "OK"
    );
  }

  /** True for the one caller that first sees this runner online (seen at GitHub, or taking a job). */
  async claimOnline(name: string): Promise<boolean> {
    return (
      (await this.store.redis.set(this.store.keys.onlineClaim(name), "1", "EX", EXIT_HISTORY_SECONDS, "NX")) === "OK"
    );
  }

  /** Keeps a runner's boot time (container start to online) among its pool's recent ones. */
  async recordBoot(pool: string, seconds: number): Promise<void> {
    const key = this.store.keys.bootSeconds(pool);
    await this.store.redis
      .multi()
      .lpush(key, String(seconds))
      .ltrim(key, 0, WARM_BOOT_SAMPLES - 1)
      .exec();
  }

  /** The median of the pool's recent boot times, seconds; undefined before a runner of it was seen online. */
  async bootSeconds(pool: string): Promise<number | undefined> {
    const samples = (await this.store.redis.lrange(this.store.keys.bootSeconds(pool), 0, -1))
      .map(Number)
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    if (samples.length === 0) return undefined;
    const middle = Math.floor(samples.length / 2);
    return samples.length % 2 === 1
      ? (samples[middle] ?? 0)
      : ((samples[middle - 1] ?? 0) + (samples[middle] ?? 0)) / 2;
  }

  /** True for the one caller that first ends this runner's time without a job (taking one, or ending without one). */
  async claimIdleEnd(name: string): Promise<boolean> {
    return (
      (await this.store.redis.set(this.store.keys.idleEndClaim(name), "1", "EX", EXIT_HISTORY_SECONDS, "NX")) === "OK"
    );
  }

  async exitOf(name: string): Promise<RunnerExitRecord | undefined> {
    const text = await this.store.redis.get(this.store.keys.runnerExit(name));
    return text ? (JSON.parse(text) as RunnerExitRecord) : undefined;
  }
}
