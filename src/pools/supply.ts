import type { RunnerRecord, RunnerState } from "../state/runner-store.js";

/** Runners of a pool that can still take a job: starting or idle, and not being taken down. */
export function freeRunners(
  pool: string,
  records: readonly RunnerRecord[],
  stateOf: (record: RunnerRecord) => RunnerState = (record) => record.state,
): RunnerRecord[] {
  return records.filter((record) => record.pool === pool && !record.retiring && stateOf(record) !== "busy");
}

/**
 * Jobs of a pool that no runner is on its way for. Runners are fungible (a runner takes the oldest
 * job it can), so this is a count per pool, never a match of one job to one runner.
 */
export function unservedJobs(waitingJobs: number, free: number): number {
  return Math.max(0, waitingJobs - free);
}
