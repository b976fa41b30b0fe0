import { targetKey, type JobStatus, type RunnerTarget } from "../scope/runner-scope.js";
import type { ProvisionRequest } from "../queue/jobs.js";
import {
  FEED_MAX_LENGTH,
  GITHUB_JOB_MAX_QUEUE_MS,
  SETTLED_JOB_MEMORY_SECONDS,
  WARM_ARRIVALS_KEPT,
  WARM_HISTORY_WEEKS,
} from "../tunables.js";
import type { FeedEvent } from "./event-feed.js";
import type { StoreContext } from "./store-context.js";

const HOUR_MS = 3600_000;
const WEEK_HOURS = 7 * 24;

/** A pool's arrivals as an adaptive pool's forecast reads them (src/pools/warm-target.ts). */
export interface ArrivalHistory {
  /** Arrivals in the window asked for, up to now. */
  recent: number;
  /** Arrivals in the short window asked for (WARM_SHORT_WINDOW_MS), up to now. */
  lately: number;
  /** Mean arrivals in the same hour of the week in earlier weeks; undefined before a week of history. */
  sameHour: { perHour: number; weeks: number } | undefined;
}

/** What recording a queued job did: "added", "waiting" (already: a redelivery), "settled" (a late queued; ignored). */
export type QueuedOutcome = "added" | "waiting" | "settled";

/**
 * What GitHub has told us through webhooks: which jobs of each pool still wait for a runner (with
 * the demand they stand for), and which installations and scopes runnerhub serves. Runners are
 * fungible, so provisioning and the reconciler weigh a pool's waiting jobs against its runners
 * rather than following one job to one runner.
 */
export class DemandLedger {
  constructor(private readonly store: StoreContext) {}

  /**
   * Records a waiting job, unless it already waits (a redelivered webhook) or was settled (a late
   * one). A fresh job also gets `feedEntry` on the event feed, in the same script.
   */
  async queued(request: ProvisionRequest, feedEntry?: FeedEvent): Promise<QueuedOutcome> {
    const target: RunnerTarget = { installationId: request.installationId, scope: request.scope };
    const outcome = await this.store.redis.runnerhubRecordQueued(
      this.store.keys.queuedJobs(request.pool),
      this.store.keys.queuedDemand(request.pool),
      this.store.keys.targets,
      this.store.keys.settledJob(request.githubJobId),
      this.store.keys.events,
      this.store.keys.overflowedJob(request.githubJobId),
      request.queuedAt,
      String(request.githubJobId),
      JSON.stringify(request),
      targetKey(target),
      JSON.stringify({ ...target, seenAt: request.queuedAt }),
      feedEntry ? JSON.stringify(feedEntry) : "",
      FEED_MAX_LENGTH,
    );
    if (outcome === 1) await this.arrived(request.pool, request.githubJobId, request.queuedAt);
    return outcome === 1 ? "added" : outcome === 0 ? "waiting" : "settled";
  }

  /** Counts a new job in its pool's arrival history: the recent arrivals, and its hour for the weeks to come. */
  private async arrived(pool: string, githubJobId: number, at: number): Promise<void> {
    const keys = this.store.keys;
    const hour = Math.floor(at / HOUR_MS);
    await this.store.redis
      .multi()
      .zadd(keys.arrivals(pool), at, String(githubJobId))
      .zremrangebyrank(keys.arrivals(pool), 0, -(WARM_ARRIVALS_KEPT + 1))
      .incr(keys.arrivalsInHour(pool, hour))
      .expire(keys.arrivalsInHour(pool, hour), (WARM_HISTORY_WEEKS + 1) * WEEK_HOURS * 3600)
      .set(keys.arrivalsSince(pool), String(hour), "NX")
      .exec();
  }

  /**
   * The pool's arrivals in the last `windowMs`, and in the hour of the week `ahead` of now in
   * earlier weeks (those since its first arrival; an hour without a count had none).
   */
  async arrivals(pool: string, now: number, windowMs: number, shortMs: number, aheadMs = 0): Promise<ArrivalHistory> {
    const keys = this.store.keys;
    const hour = Math.floor((now + aheadMs) / HOUR_MS);
    const earlier = Array.from({ length: WARM_HISTORY_WEEKS }, (_, week) => hour - (week + 1) * WEEK_HOURS);
    const [recent, lately, since, counts] = await Promise.all([
      this.store.redis.zcount(keys.arrivals(pool), now - windowMs, "+inf"),
      this.store.redis.zcount(keys.arrivals(pool), now - shortMs, "+inf"),
      this.store.redis.get(keys.arrivalsSince(pool)),
      this.store.redis.mget(...earlier.map((at) => keys.arrivalsInHour(pool, at))),
    ]);
    const firstHour = since === null ? Infinity : Number(since);
    const known = counts
      .filter((_, index) => (earlier[index] ?? -Infinity) >= firstHour)
      .map((count) => Number(count ?? 0));
    const sameHour =
      known.length === 0
        ? undefined
        : { perHour: known.reduce((a, b) => a + b, 0) / known.length, weeks: known.length };
    return { recent, lately, sameHour };
  }

  /**
   * The job was taken by a runner, or ended without one: the demand it stood for, if it still
   * waited. The job is remembered as settled for a day, so a late `queued` cannot bring it back.
   */
  async settled(pool: string, githubJobId: number): Promise<ProvisionRequest | undefined> {
    return (await this.settledWhere(pool, githubJobId)).demand;
  }

  /**
   * As settled, and where: the job's pool, or the pool it overflowed to when it waited there. The
   * overflow mark is read in the same script, so a job that never overflowed costs no extra call.
   */
  async settledWhere(
    pool: string,
    githubJobId: number,
  ): Promise<{ pool: string; demand: ProvisionRequest | undefined }> {
    const settle = (where: string) =>
      this.store.redis.runnerhubSettleDemand(
        this.store.keys.queuedJobs(where),
        this.store.keys.queuedDemand(where),
        this.store.keys.settledJob(githubJobId),
        this.store.keys.overflowedJob(githubJobId),
        String(githubJobId),
        SETTLED_JOB_MEMORY_SECONDS,
      );
    const [text, overflowedTo] = await settle(pool);
    if (text) return { pool, demand: JSON.parse(text) as ProvisionRequest };
    if (!overflowedTo || overflowedTo === pool) return { pool, demand: undefined };
    const [moved] = await settle(overflowedTo);
    return { pool: overflowedTo, demand: moved ? (JSON.parse(moved) as ProvisionRequest) : undefined };
  }

  /**
   * Moves a waiting job to the pool it overflows to (`moved` is its demand there, naming that
   * pool): false when it no longer waits in its pool (settled, or moved by another process).
   */
  async overflow(request: ProvisionRequest, moved: ProvisionRequest): Promise<boolean> {
    const keys = this.store.keys;
    const done = await this.store.redis.runnerhubOverflowDemand(
      keys.queuedJobs(request.pool),
      keys.queuedDemand(request.pool),
      keys.queuedJobs(moved.pool),
      keys.queuedDemand(moved.pool),
      keys.overflowedJob(request.githubJobId),
      String(request.githubJobId),
      JSON.stringify(moved),
      moved.pool,
      SETTLED_JOB_MEMORY_SECONDS,
    );
    return done === 1;
  }

  /** Jobs still waiting in the pool, oldest first, dropping those too old to be real. */
  async waiting(pool: string, now: number): Promise<ProvisionRequest[]> {
    const key = this.store.keys.queuedJobs(pool);
    const stale = await this.store.redis.zrangebyscore(key, "-inf", `(${now - GITHUB_JOB_MAX_QUEUE_MS}`);
    if (stale.length > 0) {
      await this.store.redis
        .multi()
        .zrem(key, ...stale)
        .hdel(this.store.keys.queuedDemand(pool), ...stale)
        .exec();
    }
    const ids = await this.store.redis.zrange(key, "0", "-1");
    if (ids.length === 0) return [];
    const texts = await this.store.redis.hmget(this.store.keys.queuedDemand(pool), ...ids);
    return texts.flatMap((text) => (text ? [JSON.parse(text) as ProvisionRequest] : []));
  }

  /** The job's status as GitHub last answered it, while that answer is kept (rememberStatus). */
  async knownStatus(githubJobId: number): Promise<JobStatus | undefined> {
    return ((await this.store.redis.get(this.store.keys.jobStatus(githubJobId))) as JobStatus | null) ?? undefined;
  }

  /** Keeps GitHub's answer about a job for ttlMs, so waking demand again does not ask again. */
  async rememberStatus(githubJobId: number, status: JobStatus, ttlMs: number): Promise<void> {
    await this.store.redis.set(this.store.keys.jobStatus(githubJobId), status, "PX", ttlMs);
  }

  async waitingCount(pool: string): Promise<number> {
    return this.store.redis.zcard(this.store.keys.queuedJobs(pool));
  }

  /**
   * Installations and scopes that queued a job in the last 24 hours: the reconciler lists their
   * registrations. Older ones are dropped, so the GitHub calls per pass stay bounded.
   */
  async targets(now: number): Promise<RunnerTarget[]> {
    const entries = Object.entries(await this.store.redis.hgetall(this.store.keys.targets)).map(
      ([key, text]) => [key, JSON.parse(text) as RunnerTarget & { seenAt: number }] as const,
    );
    const stale = entries.filter(([, target]) => target.seenAt < now - GITHUB_JOB_MAX_QUEUE_MS).map(([key]) => key);
    if (stale.length > 0) await this.store.redis.hdel(this.store.keys.targets, ...stale);
    return entries
      .filter(([key]) => !stale.includes(key))
      .map(([, target]) => ({ installationId: target.installationId, scope: target.scope }));
  }
}
