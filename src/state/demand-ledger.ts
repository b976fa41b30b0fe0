import type { Redis } from "ioredis";
import { targetKey, type JobStatus, type RunnerTarget } from "../scope/runner-scope.js";
import type { ProvisionRequest } from "../queue/jobs.js";
import { RedisKeys } from "./keys.js";
import { defineScripts } from "./scripts/index.js";
import { FEED_MAX_LENGTH, GITHUB_JOB_MAX_QUEUE_MS, SETTLED_JOB_MEMORY_SECONDS } from "../tunables.js";
import type { FeedEvent } from "./event-feed.js";

/** What recording a queued job did: "added", "waiting" (already: a redelivery), "settled" (a late queued; ignored). */
export type QueuedOutcome = "added" | "waiting" | "settled";

/**
 * What GitHub has told us through webhooks: which jobs of each pool still wait for a runner (with
 * the demand they stand for), and which installations and scopes runnerhub serves. Runners are
 * fungible, so provisioning and the reconciler weigh a pool's waiting jobs against its runners
 * rather than following one job to one runner.
 */
export class DemandLedger {
  private readonly redis: Redis;
  private readonly keys: RedisKeys;

  constructor(redis: Redis, prefix: string) {
    this.redis = defineScripts(redis);
    this.keys = new RedisKeys(prefix);
  }

  /**
   * Records a waiting job, unless it already waits (a redelivered webhook) or was settled (a late
   * one). A fresh job also gets `feedEntry` on the event feed, in the same script.
   */
  async queued(request: ProvisionRequest, feedEntry?: FeedEvent): Promise<QueuedOutcome> {
    const target: RunnerTarget = { installationId: request.installationId, scope: request.scope };
    const outcome = await this.redis.runnerhubRecordQueued(
      this.keys.queuedJobs(request.pool),
      this.keys.queuedDemand(request.pool),
      this.keys.targets,
      this.keys.settledJob(request.githubJobId),
      this.keys.events,
      request.queuedAt,
      String(request.githubJobId),
      JSON.stringify(request),
      targetKey(target),
      JSON.stringify({ ...target, seenAt: request.queuedAt }),
      feedEntry ? JSON.stringify(feedEntry) : "",
      FEED_MAX_LENGTH,
    );
    return outcome === 1 ? "added" : outcome === 0 ? "waiting" : "settled";
  }

  /**
   * The job was taken by a runner, or ended without one: the demand it stood for, if it still
   * waited. The job is remembered as settled for a day, so a late `queued` cannot bring it back.
   */
  async settled(pool: string, githubJobId: number): Promise<ProvisionRequest | undefined> {
    const text = await this.redis.runnerhubSettleDemand(
      this.keys.queuedJobs(pool),
      this.keys.queuedDemand(pool),
      this.keys.settledJob(githubJobId),
      String(githubJobId),
      SETTLED_JOB_MEMORY_SECONDS,
    );
    return text ? (JSON.parse(text) as ProvisionRequest) : undefined;
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

  /** The job's status as GitHub last answered it, while that answer is kept (rememberStatus). */
  async knownStatus(githubJobId: number): Promise<JobStatus | undefined> {
    return ((await this.redis.get(this.keys.jobStatus(githubJobId))) as JobStatus | null) ?? undefined;
  }

  /** Keeps GitHub's answer about a job for ttlMs, so waking demand again does not ask again. */
  async rememberStatus(githubJobId: number, status: JobStatus, ttlMs: number): Promise<void> {
    await this.redis.set(this.keys.jobStatus(githubJobId), status, "PX", ttlMs);
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
