import type { Pool } from "../config/pools.js";
import type { ProvisionRequest } from "../queue/jobs.js";
import type { RunnerScope } from "../scope/runner-scope.js";
import type { RunnerRecord } from "../state/runner-store.js";
import { covers, matchDemand, recordReach } from "./coverage.js";

/**
 * A fair-share pool (perRepository) registers each runner at its job's repository, so a runner
 * serves only that repository's jobs: its free runners and waiting jobs are weighed per
 * repository, never across the pool. Repositories are named `owner/repo` in lower case, as GitHub
 * treats them.
 */
export function repositoryOf(item: { owner: string; repo: string }): string {
  return `${item.owner}/${item.repo}`.toLowerCase();
}

/**
 * Where a runner for this demand registers: a fair-share pool's at the job's repository, whatever
 * scope the demand arrived with (an organization's job that overflowed from another pool, say).
 */
export function runnerScope(
  pool: Pick<Pool, "perRepository">,
  request: Pick<ProvisionRequest, "owner" | "repo" | "scope">,
): RunnerScope {
  return pool.perRepository ? { kind: "repo", owner: request.owner, repo: request.repo } : request.scope;
}

/** The repository a runner record was made for (lower case); undefined for a warm runner's record. */
export function recordRepository(record: Pick<RunnerRecord, "repository">): string | undefined {
  return record.repository?.toLowerCase();
}

const FAIR_SHARE = { perRepository: { maxRunners: 1 } } as const;

/** A repository's unsized waiting jobs and the free runners that can take them, out of the pool's. */
export function repositoryDemand(
  repository: string,
  waiting: readonly ProvisionRequest[],
  free: readonly Pick<RunnerRecord, "repository" | "scope" | "size">[],
): { waiting: number; free: number } {
  const [owner = "", repo = ""] = repository.split("/");
  const job = { owner, repo, queuedAt: 0 };
  return {
    waiting: waiting.filter((request) => repositoryOf(request) === repository).length,
    free: free.filter((record) => covers(recordReach(FAIR_SHARE, record), job)).length,
  };
}

/**
 * The waiting jobs of a fair-share pool that no runner of their repository is on its way for: in
 * each repository its oldest jobs beyond its free runners, all of them oldest first. (Weighed across
 * the pool, an idle runner of one repository would hide another repository's job for ever.)
 */
export function unservedByRepository(
  waiting: readonly ProvisionRequest[],
  free: readonly Pick<RunnerRecord, "repository" | "scope" | "size">[],
): ProvisionRequest[] {
  return matchDemand(waiting, free, (record) => recordReach(FAIR_SHARE, record)).unserved;
}

/** One repository of a fair-share pool as the admin API shows it. */
export interface RepositoryShare {
  repository: string;
  /** Runners holding a slot of the pool for this repository (being made or running). */
  running: number;
  /** Its jobs waiting for a runner at GitHub (webhooks), and of those, entries parked on its turn. */
  waiting: number;
  parked: number;
}

/** The per-repository rows of a fair-share pool: every repository holding a slot, parked or waiting. */
export function repositoryShares(
  slots: readonly { repository: string; slots: number; parked: number }[],
  waiting: readonly ProvisionRequest[],
): RepositoryShare[] {
  const names = new Set([...slots.map((row) => row.repository), ...waiting.map(repositoryOf)]);
  return [...names].sort().map((repository) => {
    const row = slots.find((candidate) => candidate.repository === repository);
    return {
      repository,
      running: row?.slots ?? 0,
      waiting: waiting.filter((request) => repositoryOf(request) === repository).length,
      parked: row?.parked ?? 0,
    };
  });
}

/**
 * How many idle runners each repository of a full fair-share pool may give up for another
 * repository whose jobs no runner of its own serves: its idle runners beyond its own waiting jobs.
 * Weighed across the pool, such a runner would count as serving the other repository's job (it
 * cannot: it is registered at its own repository) and hold the slot that job needs until its idle
 * timeout. Empty when no repository is short of runners.
 */
export function surplusByRepository(
  waiting: readonly ProvisionRequest[],
  free: readonly Pick<RunnerRecord, "repository" | "scope" | "size">[],
  idle: readonly Pick<RunnerRecord, "repository" | "scope" | "size">[],
): Map<string, number> {
  const short = new Set(unservedByRepository(waiting, free).map(repositoryOf));
  const surplus = new Map<string, number>();
  for (const repository of new Set(idle.flatMap((record) => recordRepository(record) ?? []))) {
    if (![...short].some((other) => other !== repository)) continue;
    const own = repositoryDemand(repository, waiting, free);
    const idleOwn = idle.filter((record) => recordRepository(record) === repository).length;
    const count = Math.min(idleOwn, own.free - own.waiting);
    if (count > 0) surplus.set(repository, count);
  }
  return surplus;
}
