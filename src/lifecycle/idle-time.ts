import { secondsBetween, type Metrics } from "../observability/metrics.js";
import type { RunnerRecord, RunnerStore } from "../state/runner-store.js";

/**
 * Ends a runner's time without a job, once per runner: the first of it taking a job (the
 * in_progress webhook) and its container ending without one. The time counts from its container
 * start, since GitHub tells no one when a runner comes online. True for the caller that ended it.
 */
export async function endIdleTime(
  record: Pick<RunnerRecord, "name" | "pool" | "startedAt">,
  at: number,
  deps: { runners: Pick<RunnerStore, "claimIdleEnd">; metrics: Pick<Metrics, "idleRunnerSeconds"> },
): Promise<boolean> {
  if (!(await deps.runners.claimIdleEnd(record.name))) return false;
  if (record.startedAt !== undefined) {
    deps.metrics.idleRunnerSeconds.inc({ pool: record.pool }, secondsBetween(record.startedAt, at));
  }
  return true;
}
