import { secondsBetween, type Metrics } from "../observability/metrics.js";
import type { RunnerRecord, RunnerStore } from "../state/runner-store.js";

/**
 * Observes how long a runner took from its container starting to being online, once per runner:
 * the first of the reconciler seeing it online at GitHub and the in_progress webhook naming it.
 * GitHub sends no event when a runner comes online, so a runner nobody looks at in between is
 * measured up to taking its job. Called by each side that writes either half (the start time or
 * an online state); the record merge is atomic, so one of them sees both.
 */
export async function observeRunnerOnline(
  record: RunnerRecord,
  deps: { runners: RunnerStore; metrics: Metrics; now: () => number },
): Promise<void> {
  if (record.startedAt === undefined || record.state === "starting") return;
  if (!(await deps.runners.claimOnline(record.name))) return;
  const seconds = secondsBetween(record.startedAt, deps.now());
  deps.metrics.runnerOnlineSeconds.observe({ pool: record.pool }, seconds);
  // The adaptive warm target plans over one boot (src/pools/warm-target.ts). Only a runner that
  // took the job it was made for was timed at the moment it came online: one that idled first
  // (a warm runner, or one whose job went elsewhere) is seen online only by a later look.
  if (record.state === "busy" && record.busyJobId === record.githubJobId && record.githubJobId > 0) {
    await deps.runners.recordBoot(record.pool, seconds);
  }
}
