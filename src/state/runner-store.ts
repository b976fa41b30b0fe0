import type { Redis } from "ioredis";
import type { RunnerScope } from "../github/runners-api.js";

export type RunnerState = "starting" | "idle" | "busy";

export interface RunnerRecord {
  name: string;
  pool: string;
  engine: string;
  installationId: number;
  scope: RunnerScope;
  /** The job whose webhook caused this runner; it may end up taking another job of the pool. */
  jobId: number;
  runnerId: number | undefined;
  containerId: string | undefined;
  state: RunnerState;
  /** The job the runner actually took, from the in_progress webhook. */
  busyJobId: number | undefined;
  createdAt: number;
  /** When GitHub reported the runner's job completed. */
  completedAt: number | undefined;
  /** Why runnerhub is taking this runner down (drained, idle, max lifetime), once it decided to. */
  retiring?: string;
}

export interface RunnerExitRecord extends RunnerRecord {
  exitedAt: number;
  exitCode: number | undefined;
  oomKilled: boolean;
  reason: string;
}

// A Lua merge keeps read-modify-write atomic even when several processes update one runner.
const MERGE_SCRIPT = `
local text = redis.call("GET", KEYS[1])
if not text then return false end
local record = cjson.decode(text)
local busy = record.state == "busy"
for key, value in pairs(cjson.decode(ARGV[1])) do record[key] = value end
if busy and ARGV[2] == "keep-busy" then record.state = "busy" end
local merged = cjson.encode(record)
redis.call("SET", KEYS[1], merged)
return merged
`;

/** How long the record of an exited runner is kept for inspection. */
const EXIT_HISTORY_SECONDS = 24 * 3600;

/** Runner records in Redis: one JSON string per runner plus a set of the live ones. */
export class RunnerStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(name: string) {
    return `${this.prefix}:runner:${name}`;
  }

  private exitKey(name: string) {
    return `${this.prefix}:runner-exit:${name}`;
  }

  private get indexKey() {
    return `${this.prefix}:runners`;
  }

  async put(record: RunnerRecord): Promise<void> {
    await this.redis.multi().set(this.key(record.name), JSON.stringify(record)).sadd(this.indexKey, record.name).exec();
  }

  async get(name: string): Promise<RunnerRecord | undefined> {
    const text = await this.redis.get(this.key(name));
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
    const text = (await this.redis.eval(MERGE_SCRIPT, 1, this.key(name), JSON.stringify(change), mode)) as
      string | null;
    return text ? (JSON.parse(text) as RunnerRecord) : undefined;
  }

  async list(): Promise<RunnerRecord[]> {
    const names = await this.redis.smembers(this.indexKey);
    if (names.length === 0) return [];
    const texts = await this.redis.mget(names.map((name) => this.key(name)));
    return texts.flatMap((text) => (text ? [JSON.parse(text) as RunnerRecord] : []));
  }

  /** Removes a live record and keeps what happened to it for a day. */
  async retire(name: string, exit: Omit<RunnerExitRecord, keyof RunnerRecord>): Promise<RunnerExitRecord | undefined> {
    const record = await this.get(name);
    const multi = this.redis.multi().del(this.key(name)).srem(this.indexKey, name);
    if (!record) {
      await multi.exec();
      return undefined;
    }
    const history: RunnerExitRecord = { ...record, ...exit };
    await multi.set(this.exitKey(name), JSON.stringify(history), "EX", EXIT_HISTORY_SECONDS).exec();
    return history;
  }

  /** True for the one caller that gets to clean up after this container (per minute). */
  async claimCleanup(containerId: string): Promise<boolean> {
    return (await this.redis.set(`${this.prefix}:cleanup:${containerId}`, "1", "PX", 60_000, "NX")) === "OK";
  }

  async exitOf(name: string): Promise<RunnerExitRecord | undefined> {
    const text = await this.redis.get(this.exitKey(name));
    return text ? (JSON.parse(text) as RunnerExitRecord) : undefined;
  }
}
