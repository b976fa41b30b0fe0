import type { Pool } from "../config/pools.js";
import type { Metrics } from "../observability/metrics.js";
import type { PoolCatalog } from "../pools/catalog.js";
import { nearestPool } from "../pools/match.js";
import type { UnmatchedJob, UnmatchedJobStore } from "../pools/unmatched-store.js";
import type { Demand, WorkflowJobEvent } from "./demand.js";

type IgnoreReason = Extract<Demand, { kind: "ignore" }>["reason"];

/**
 * What is shown of a queued job no pool serves; undefined for jobs that are not runnerhub's to
 * serve (meant for GitHub-hosted runners, or from no installation). A job with labels gets the
 * pool it comes closest to; a label-less job has none (every pool carries its no labels).
 */
export function unmatchedJob(
  event: WorkflowJobEvent,
  reason: IgnoreReason,
  pools: readonly Pool[],
  at: number,
): UnmatchedJob | undefined {
  if (reason !== "no-matching-pool" && reason !== "no-labels") return undefined;
  const job = event.workflow_job;
  const nearest = reason === "no-matching-pool" ? nearestPool(job.labels, pools) : undefined;
  return {
    jobId: job.id,
    repository: `${event.repository.owner.login}/${event.repository.name}`,
    labels: [...job.labels],
    reason,
    ...(nearest ? { nearestPool: nearest.pool } : {}),
    missing: nearest?.missing ?? [],
    at,
  };
}

/** Keeps an unmatched job for the admin API and counts it once; returns what its log line adds. */
export async function recordUnmatched(
  deps: {
    pools: PoolCatalog;
    unmatched: Pick<UnmatchedJobStore, "record">;
    metrics: Pick<Metrics, "jobsUnmatched">;
    now: () => number;
  },
  event: WorkflowJobEvent,
  reason: IgnoreReason,
): Promise<{ nearestPool?: string; missing?: string[] }> {
  const job = unmatchedJob(event, reason, deps.pools.declared(), deps.now());
  if (!job) return {};
  if (await deps.unmatched.record(job)) deps.metrics.jobsUnmatched.inc({ reason: job.reason });
  return { nearestPool: job.nearestPool, missing: job.missing };
}
