import type { Redis } from "ioredis";
import type { RunnerTarget } from "../github/runners-api.js";
import { describeScope } from "../github/runners-api.js";

/** GitHub fails a job that no runner took within 24 hours; older entries are stale. */
const QUEUED_JOB_MAX_AGE_MS = 24 * 3600_000;

/**
 * What GitHub has told us through webhooks: which jobs of each pool still wait for a runner, and
 * which installations and scopes runnerhub serves. The reconciler weighs idle runners against the
 * first and lists registrations of the second.
 */
export class DemandLedger {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private queuedKey(pool: string) {
    return `${this.prefix}:queued:${pool}`;
  }

  private get targetsKey() {
    return `${this.prefix}:targets`;
  }

  async queued(pool: string, jobId: number, queuedAt: number, target: RunnerTarget): Promise<void> {
    await this.redis
      .multi()
      .zadd(this.queuedKey(pool), queuedAt, String(jobId))
      .hset(this.targetsKey, `${target.installationId}:${describeScope(target.scope)}`, JSON.stringify(target))
      .exec();
  }

  /** The job was taken by a runner, or ended without one. */
  async settled(pool: string, jobId: number): Promise<void> {
    await this.redis.zrem(this.queuedKey(pool), String(jobId));
  }

  async isQueued(pool: string, jobId: number): Promise<boolean> {
    return (await this.redis.zscore(this.queuedKey(pool), String(jobId))) !== null;
  }

  /** Job ids still waiting in the pool, dropping those too old to be real. */
  async waitingJobs(pool: string, now: number): Promise<number[]> {
    const key = this.queuedKey(pool);
    await this.redis.zremrangebyscore(key, "-inf", `(${now - QUEUED_JOB_MAX_AGE_MS}`);
    return (await this.redis.zrange(key, "0", "-1")).map(Number);
  }

  async targets(): Promise<RunnerTarget[]> {
    return Object.values(await this.redis.hgetall(this.targetsKey)).map((text) => JSON.parse(text) as RunnerTarget);
  }
}
