import type { Redis } from "ioredis";
import type { RunnerTarget } from "../github/runners-api.js";
import { targetKey } from "../github/runners-api.js";
import type { ProvisionRequest } from "../queue/jobs.js";
import { RedisKeys } from "./keys.js";
import { GITHUB_JOB_MAX_QUEUE_MS } from "../tunables.js";

/**
 * What GitHub has told us through webhooks: which jobs of each pool still wait for a runner (with
 * the demand they stand for), and which installations and scopes runnerhub serves. Runners are
 * fungible, so provisioning and the reconciler weigh a pool's waiting jobs against its runners
 * rather than following one job to one runner.
 */
export class DemandLedger {
  private readonly keys: RedisKeys;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = new RedisKeys(prefix);
  }

  /** Records a waiting job; false when it was already waiting (a redelivered webhook). */
  async queued(request: ProvisionRequest): Promise<boolean> {
    const target: RunnerTarget = { installationId: request.installationId, scope: request.scope };
    const results = await this.redis
      .multi()
      .zadd(this.keys.queuedJobs(request.pool), request.queuedAt, String(request.githubJobId))
      .hset(this.keys.queuedDemand(request.pool), String(request.githubJobId), JSON.stringify(request))
      .hset(this.keys.targets, targetKey(target), JSON.stringify({ ...target, seenAt: request.queuedAt }))
      .exec();
    return results?.[0]?.[1] === 1;
  }

  /** The job was taken by a runner, or ended without one; the demand it stood for, if it still waited. */
  async settled(pool: string, githubJobId: number): Promise<ProvisionRequest | undefined> {
    const results = await this.redis
      .multi()
      .hget(this.keys.queuedDemand(pool), String(githubJobId))
      .zrem(this.keys.queuedJobs(pool), String(githubJobId))
      .hdel(this.keys.queuedDemand(pool), String(githubJobId))
      .exec();
    const text = results?.[0]?.[1];
    return typeof text === "string" ? (JSON.parse(text) as ProvisionRequest) : undefined;
  }

  /** Jobs still waiting in the pool, oldest first, dropping those too old to be real. */
  async waiting(pool: string, now: number): Promise<ProvisionRequest[]> {
    const key = this.keys.queuedJobs(pool);
    const stale = await this.redis.zrangebyscore(key, "-inf", `(${now - GITHUB_JOB_MAX_QUEUE_MS}`);
    if (stale.length > 0) {
      await this.redis
        .multi()
        .zrem(key, ...stale)
        .hdel(this.keys.queuedDemand(pool), ...stale)
        .exec();
    }
    const ids = await this.redis.zrange(key, "0", "-1");
    if (ids.length === 0) return [];
    const texts = await this.redis.hmget(this.keys.queuedDemand(pool), ...ids);
    return texts.flatMap((text) => (text ? [JSON.parse(text) as ProvisionRequest] : []));
  }

  async waitingCount(pool: string): Promise<number> {
    return this.redis.zcard(this.keys.queuedJobs(pool));
  }

  /**
   * Installations and scopes that queued a job in the last 24 hours: the reconciler lists their
   * registrations. Older ones are dropped, so the GitHub calls per pass stay bounded.
   */
  async targets(now: number): Promise<RunnerTarget[]> {
    const entries = Object.entries(await this.redis.hgetall(this.keys.targets)).map(
      ([key, text]) => [key, JSON.parse(text) as RunnerTarget & { seenAt: number }] as const,
    );
    const stale = entries.filter(([, target]) => target.seenAt < now - GITHUB_JOB_MAX_QUEUE_MS).map(([key]) => key);
    if (stale.length > 0) await this.redis.hdel(this.keys.targets, ...stale);
    return entries
      .filter(([key]) => !stale.includes(key))
      .map(([, target]) => ({ installationId: target.installationId, scope: target.scope }));
  }
}
