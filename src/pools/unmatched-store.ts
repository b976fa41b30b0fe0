import type { StoreContext } from "../state/store-context.js";
import { UNMATCHED_JOBS_KEPT } from "../tunables.js";
import type { UnmatchedReason } from "./match.js";

/** A queued job no pool serves, as the admin API and dashboard show it. */
export interface UnmatchedJob {
  jobId: number;
  repository: string;
  labels: string[];
  reason: Exclude<UnmatchedReason, "not-self-hosted">;
  /** The pool the job comes closest to (fewest of its labels missing), and the labels that pool lacks. */
  nearestPool?: string;
  missing: string[];
  /** When the queued webhook arrived (ms). */
  at: number;
}

/** The recent queued jobs no pool serves (the last UNMATCHED_JOBS_KEPT), until each is taken or ends. */
export class UnmatchedJobStore {
  constructor(private readonly store: StoreContext) {}

  /** Keeps the job; true when it is new (a redelivered webhook is not). */
  async record(job: UnmatchedJob): Promise<boolean> {
    const { redis, keys } = this.store;
    const id = String(job.jobId);
    const [added] =
      (await redis
        .multi()
        .zadd(keys.unmatchedJobsByTime, "NX", job.at, id)
        .hset(keys.unmatchedJobs, id, JSON.stringify(job))
        .exec()) ?? [];
    // Trimmed after the write; two writers trimming at once remove the same oldest entries.
    const dropped = await redis.zrange(keys.unmatchedJobsByTime, "0", String(-(UNMATCHED_JOBS_KEPT + 1)));
    if (dropped.length > 0) {
      await redis
        .multi()
        .zrem(keys.unmatchedJobsByTime, ...dropped)
        .hdel(keys.unmatchedJobs, ...dropped)
        .exec();
    }
    return added?.[1] === 1;
  }

  /** The job was taken by a runner or ended: it no longer waits. */
  async forget(jobId: number): Promise<void> {
    const { redis, keys } = this.store;
    await redis.multi().zrem(keys.unmatchedJobsByTime, String(jobId)).hdel(keys.unmatchedJobs, String(jobId)).exec();
  }

  /** The kept jobs, newest first. */
  async recent(): Promise<UnmatchedJob[]> {
    const { redis, keys } = this.store;
    const ids = await redis.zrevrange(keys.unmatchedJobsByTime, 0, -1);
    if (ids.length === 0) return [];
    const texts = await redis.hmget(keys.unmatchedJobs, ...ids);
    return texts.flatMap((text) => (text ? [JSON.parse(text) as UnmatchedJob] : []));
  }
}
