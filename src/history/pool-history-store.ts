import type { StoreContext } from "../state/store-context.js";
import { HISTORY_MAX_PICKUPS, HISTORY_WINDOW_MS } from "../tunables.js";
import type { Pickup, PoolSample } from "./pool-history.js";

/**
 * Each pool's last hour in Redis: the raw pickups (so percentiles are right whichever process saw
 * the jobs) and one sample per interval. Everything older than the window is trimmed on write,
 * and a pool nobody writes for expires as a whole.
 */
export class PoolHistoryStore {
  constructor(
    private readonly store: StoreContext,
    private readonly windowMs: number = HISTORY_WINDOW_MS,
  ) {}

  /** A job of the pool was taken `seconds` after its queued webhook (the member names the job, so equal times all count). */
  async recordPickup(pool: string, jobId: number, at: number, seconds: number): Promise<void> {
    const key = this.store.keys.pickups(pool);
    await this.store.redis
      .multi()
      .zadd(key, at, `${jobId}:${seconds}`)
      .zremrangebyscore(key, "-inf", `(${at - this.windowMs}`)
      // A burst beyond the cap keeps the newest.
      .zremrangebyrank(key, 0, -HISTORY_MAX_PICKUPS - 1)
      .pexpire(key, this.windowMs)
      .exec();
  }

  /** Keeps the sample unless one for its moment is kept already (another process took it); true when this one was. */
  async recordSample(pool: string, sample: PoolSample): Promise<boolean> {
    const key = this.store.keys.poolSamples(pool);
    const added = await this.store.redis.hsetnx(key, String(sample.at), JSON.stringify(sample));
    const old = (await this.store.redis.hkeys(key)).filter((at) => Number(at) < sample.at - this.windowMs);
    const trim = this.store.redis.multi();
    if (old.length > 0) trim.hdel(key, ...old);
    await trim.pexpire(key, this.windowMs).exec();
    return added === 1;
  }

  /** The pool's pickups since `from`, oldest first. */
  async pickups(pool: string, from: number): Promise<Pickup[]> {
    const entries = await this.store.redis.zrangebyscore(this.store.keys.pickups(pool), from, "+inf", "WITHSCORES");
    const pickups: Pickup[] = [];
    for (let i = 0; i + 1 < entries.length; i += 2) {
      const seconds = Number((entries[i] ?? "").split(":")[1]);
      pickups.push({ at: Number(entries[i + 1]), seconds });
    }
    return pickups;
  }

  /** The pool's samples since `from`, oldest first. */
  async samples(pool: string, from: number): Promise<PoolSample[]> {
    const fields = await this.store.redis.hgetall(this.store.keys.poolSamples(pool));
    return Object.entries(fields)
      .filter(([at]) => Number(at) >= from)
      .map(([, text]) => JSON.parse(text) as PoolSample)
      .sort((a, b) => a.at - b.at);
  }
}
