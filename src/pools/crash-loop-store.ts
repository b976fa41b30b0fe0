import type { Pool } from "../config/pools.js";
import { afterCrash, poolVersion, type CrashLoopPolicy, type CrashLoopRecord, type RunnerCrash } from "./crash-loop.js";
import { CRASH_LOOP_WRITE_TRIES } from "../tunables.js";
import type { StoreContext } from "../state/store-context.js";

/** Per pool, its runners' crashes before a job and the backoff they earned (decided in src/pools/crash-loop.ts). */
export class CrashLoopStore {
  constructor(
    private readonly store: StoreContext,
    readonly policy: CrashLoopPolicy,
  ) {}

  async get(pool: string): Promise<CrashLoopRecord | undefined> {
    const text = await this.store.redis.get(this.store.keys.crashLoop(pool));
    return text ? (JSON.parse(text) as CrashLoopRecord) : undefined;
  }

  /** The records of these pools, by pool name (pools without one are left out). */
  async getMany(pools: readonly string[]): Promise<Map<string, CrashLoopRecord>> {
    if (pools.length === 0) return new Map();
    const texts = await this.store.redis.mget(pools.map((pool) => this.store.keys.crashLoop(pool)));
    return new Map(
      pools.flatMap((pool, index) => {
        const text = texts[index];
        return text ? [[pool, JSON.parse(text) as CrashLoopRecord] as const] : [];
      }),
    );
  }

  /**
   * Counts one more crash of the pool's runners. Processes of several engines clean up after the
   * pool's runners at once: each computes its change from what it read, and only a change made
   * from the value still there is written (the others read again).
   */
  async recordCrash(pool: Pool, crash: RunnerCrash): Promise<{ record: CrashLoopRecord; backoffBegun: boolean }> {
    const key = this.store.keys.crashLoop(pool.name);
    const version = poolVersion(pool);
    for (let attempt = 1; ; attempt++) {
      const text = (await this.store.redis.get(key)) ?? "";
      const previous = text ? (JSON.parse(text) as CrashLoopRecord) : undefined;
      const outcome = afterCrash(previous, crash, version, this.policy);
      const written = await this.store.redis.runnerhubCompareAndSet(
        key,
        text,
        JSON.stringify(outcome.record),
        this.policy.memoryMs,
      );
      if (written === 1) return outcome;
      if (attempt >= CRASH_LOOP_WRITE_TRIES) {
        throw new Error(
          `the crash loop of pool "${pool.name}" changed under each of ${attempt} tries to count the crash of ${crash.runnerName}; the crash is not counted`,
        );
      }
    }
  }

  /** Ends the pool's crash loop (a runner took a job, or an operator reset it); false when there was none. */
  async clear(pool: string): Promise<boolean> {
    return (await this.store.redis.del(this.store.keys.crashLoop(pool))) === 1;
  }
}
