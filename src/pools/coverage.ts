import type { Pool } from "../config/pools.js";
import type { RunnerScope } from "../scope/runner-scope.js";
import type { RunnerRecord } from "../state/runner-store.js";

/**
 * Which waiting jobs a runner can take. GitHub gives a job only to a runner whose registration
 * scope covers the job's repository (an organization's runner: a repository of that organization;
 * a repository's runner: that repository) and whose labels include the job's, so a sized job needs
 * a runner of its size. Free runners and waiting jobs are weighed through this, never as counts
 * across a pool shared by several organizations, repositories or sizes.
 */
export interface RunnerReach {
  scope: RunnerScope;
  /** The size label the runner carries; absent: it carries none, so it takes only unsized jobs. */
  size?: string;
}

export interface CoveredJob {
  owner: string;
  repo: string;
  size?: string;
  queuedAt: number;
}

/** Whether a runner of this reach can take the job. */
export function covers(reach: RunnerReach | undefined, job: CoveredJob): boolean {
  if (reach === undefined) return false;
  const { scope } = reach;
  const owner = job.owner.toLowerCase();
  const inScope =
    scope.kind === "org"
      ? scope.org.toLowerCase() === owner
      : scope.owner.toLowerCase() === owner && scope.repo.toLowerCase() === job.repo.toLowerCase();
  return inScope && (job.size === undefined || job.size.toLowerCase() === reach.size?.toLowerCase());
}

/**
 * What a free runner of the pool can take. A fair-share pool's runner serves the repository it was
 * made for (its record's repository; a warm runner's record names none, so it counts for none).
 */
export function recordReach(
  pool: Pick<Pool, "perRepository">,
  record: Pick<RunnerRecord, "scope" | "size" | "repository">,
): RunnerReach | undefined {
  if (!pool.perRepository) return { scope: record.scope, size: record.size };
  const [owner, repo] = record.repository?.split("/") ?? [];
  if (owner === undefined || repo === undefined) return undefined;
  return { scope: { kind: "repo", owner, repo }, size: record.size };
}

/**
 * Waiting jobs no free runner is on its way for, oldest first, and the runners some waiting job
 * claims. Each runner claims the newest unclaimed job it can take (the oldest unserved jobs are the
 * ones to make runners for again); runners that can take fewer
 * jobs choose first (a repository's runner before its organization's), which claims as many jobs
 * as can be claimed. Among runners alike, earlier ones in `free` claim first.
 */
export function matchDemand<J extends CoveredJob, R>(
  waiting: readonly J[],
  free: readonly R[],
  reachOf: (runner: R) => RunnerReach | undefined,
): { unserved: J[]; claimed: Set<R> } {
  const jobs = [...waiting].sort((a, b) => a.queuedAt - b.queuedAt);
  const open = new Set(jobs);
  const claimed = new Set<R>();
  const runners = free
    .map((runner) => ({ runner, reach: reachOf(runner) }))
    .map((entry) => ({ ...entry, reachable: jobs.filter((job) => covers(entry.reach, job)) }))
    .filter((entry) => entry.reachable.length > 0)
    .sort((a, b) => a.reachable.length - b.reachable.length);
  for (const { runner, reachable } of runners) {
    const job = reachable.findLast((candidate) => open.has(candidate));
    if (job === undefined) continue;
    open.delete(job);
    claimed.add(runner);
  }
  return { unserved: jobs.filter((job) => open.has(job)), claimed };
}
