import type { Logger } from "pino";
import type { ContainerEngine, ContainerExit } from "../docker/engine.js";
import { LABELS } from "../docker/labels.js";
import type { RunnersApi } from "../github/runners-api.js";
import { reportSwallowed, swallowInto } from "../observability/internal-errors.js";
import type { Metrics } from "../observability/metrics.js";
import { crashedBeforeJob, type CrashLoopRecord } from "../pools/crash-loop.js";
import type { EngineSlots } from "../slots/slots.js";
import type { CrashLoopStore } from "../pools/crash-loop-store.js";
import { exitEventKind, type EventFeed } from "../state/event-feed.js";
import type { RunnerRecord, RunnerStore, RunnerUsage } from "../state/runner-store.js";
import { KEPT_LOG_BYTES, KEPT_LOG_LINES } from "../tunables.js";
import { classifyExit, exitReason, RUNNER_OUTDATED_FIX, type ExitReason } from "../docker/exit-reason.js";
import { endIdleTime } from "./idle-time.js";
import { oomRerunDecision, requestOomRerun, type OomRerunDeps } from "./oom-rerun.js";
import { maskSecrets, secretValuesOf, tailOf } from "./runner-logs.js";
import type { PoolCatalog } from "../pools/catalog.js";

export interface CleanUpDeps {
  engine: ContainerEngine;
  runners: RunnerStore;
  slots: EngineSlots;
  github: RunnersApi;
  feed: EventFeed;
  metrics: Metrics;
  pools: PoolCatalog;
  /** Where a job whose runner was OOM-killed is re-run (pool oomRetryPool). */
  oomReruns: OomRerunDeps;
  /** Counts runners that end before taking a job; enough in a row back their pool off. */
  crashLoops: Pick<CrashLoopStore, "recordCrash">;
  log: Logger;
  now: () => number;
}

function numberOrUndefined(text: string | undefined): number | undefined {
  const value = Number(text);
  return text && Number.isFinite(value) ? value : undefined;
}

/** The recorded usage, raised to the whole memory limit for an OOM kill (the kernel killed it at the limit). */
export function finalUsage(
  recorded: RunnerUsage | undefined,
  exit: ContainerExit | undefined,
): RunnerUsage | undefined {
  const oomPeak = exit?.oomKilled ? (exit.memoryLimitBytes ?? 0) : 0;
  if (!recorded && oomPeak === 0) return undefined;
  return {
    peakMemoryBytes: Math.max(recorded?.peakMemoryBytes ?? 0, oomPeak),
    cpuSeconds: recorded?.cpuSeconds ?? 0,
  };
}

/** The container's last lines, secrets masked; undefined when they cannot be read (never fails a clean-up). */
async function lastLines(
  deps: CleanUpDeps,
  containerId: string,
  observed: ExitReason,
  log: Logger,
): Promise<string | undefined> {
  const { engine } = deps;
  const kind = observed === "completed" ? "completed" : "abnormal";
  try {
    const [env, text] = await Promise.all([
      engine.environment(containerId),
      engine.logTail(containerId, KEPT_LOG_LINES[kind]),
    ]);
    if (text === undefined) return undefined;
    return tailOf(maskSecrets(text, secretValuesOf(env ?? [])), KEPT_LOG_BYTES[kind]);
  } catch (error) {
    reportSwallowed({ log, metrics: deps.metrics }, error, {
      where: "clean-up.last-log-lines",
      message: "could not read the runner's last log lines",
      fields: { containerId },
    });
    return undefined;
  }
}

function observeUsage(deps: CleanUpDeps, record: RunnerRecord | undefined, usage: RunnerUsage | undefined): void {
  // Per job: a runner that never took one says nothing about what jobs need.
  if (!record || record.busyJobId === undefined || !usage) return;
  deps.metrics.runnerPeakMemory.observe({ pool: record.pool }, usage.peakMemoryBytes);
  deps.metrics.runnerCpuSeconds.observe({ pool: record.pool }, usage.cpuSeconds);
}

/**
 * A runner that ends without having taken a job was up without one until now. One that exited 0
 * on its own did take one (its in_progress webhook is late): that time is not known, so not counted.
 */
async function endIdleAtExit(deps: CleanUpDeps, record: RunnerRecord | undefined, observed: ExitReason) {
  if (!record || record.busyJobId !== undefined) return;
  if (observed === "completed" && record.retiring === undefined) return;
  await endIdleTime(record, deps.now(), deps);
}

/** Re-runs, on the pool's oomRetryPool or oomRetrySize, the job an OOM kill ended (once per job). */
async function oomRerun(
  deps: CleanUpDeps,
  record: RunnerRecord | undefined,
  observed: ExitReason,
): Promise<{ pool: string; at: number } | undefined> {
  const decision = oomRerunDecision(record, observed, deps.pools.declared());
  if (decision?.kind === "skip") {
    deps.log.info(
      { runnerName: record?.name, pool: record?.pool, reason: decision.reason },
      "OOM-killed job not re-run",
    );
  }
  if (decision?.kind !== "rerun" || !record) return undefined;
  return requestOomRerun(record, decision.pool.name, deps.oomReruns, decision.size);
}

/** Counts a runner that ended before taking a job towards its pool's crash loop (undefined: it does not count). */
async function countCrash(
  deps: CleanUpDeps,
  record: RunnerRecord | undefined,
  observed: ExitReason,
  exit: ContainerExit | undefined,
  log: Logger,
): Promise<CrashLoopRecord | undefined> {
  if (!record || !crashedBeforeJob(record, observed)) return undefined;
  const pool = deps.pools.find(record.pool);
  if (!pool) return undefined;
  const { record: loop, backoffBegun } = await deps.crashLoops.recordCrash(pool, {
    runnerName: record.name,
    exitCode: exit?.exitCode,
    reason: observed,
    at: deps.now(),
  });
  if (backoffBegun) {
    deps.metrics.crashLoopBackoffs.inc({ pool: pool.name });
    log.warn(
      {
        crashes: loop.crashes,
        backoffs: loop.backoffs,
        backoffUntil: new Date(loop.backoffUntil).toISOString(),
        exitCode: exit?.exitCode,
        reason: observed,
        ...(observed === "runner-outdated" ? { fix: RUNNER_OUTDATED_FIX } : {}),
      },
      "pool is crash-looping: its runners end before taking a job; no runner is made for it until the backoff ends",
    );
  }
  return loop;
}

/**
 * The end of a runner's life, after its container ended: keeps its last log lines and usage,
 * re-runs the job an OOM kill ended on the pool's oomRetryPool,
 * withdraws a registration GitHub still holds, removes the container, retires the runner record
 * with the reason, frees its slot, and counts a runner that died before taking a job towards its
 * pool's crash loop.
 */
export async function cleanUpRunner(
  deps: CleanUpDeps,
  containerId: string,
  labels: Record<string, string>,
): Promise<void> {
  const { engine } = deps;
  const runnerName = labels[LABELS.runnerName] ?? "";
  const log = deps.log.child({ pool: labels[LABELS.pool], runnerName });
  const status = await engine.status(containerId);
  // A list taken a moment ago may have caught a container between create and start.
  if (status.kind === "alive") return;
  // Several processes may watch one engine; one of them cleans up after each container.
  if (!(await deps.runners.claimCleanup(containerId))) return;
  const exit = status.kind === "ended" ? status.exit : undefined;
  const record = runnerName ? await deps.runners.get(runnerName) : undefined;
  // Already handled: events can repeat after a stream resumes from the last second seen.
  if (!exit && !record) return;
  // The last lines tell a runner GitHub refused for its version from one that finished or crashed.
  const logs = exit ? await lastLines(deps, containerId, exitReason(exit), log) : undefined;
  const observed = classifyExit(exitReason(exit), logs);
  // An ephemeral runner exits 0 only after its job, and GitHub removes its registration then, even
  // when the in_progress webhook has not arrived yet (a burst's webhooks queue up, and deleting
  // there would spend a GitHub call on a registration already gone). A runner runnerhub was taking
  // down, or one that crashed, still holds its registration.
  // An OOM kill is worth knowing even when runnerhub was stopping the runner anyway.
  const reason = record?.retiring && observed !== "oom-killed" ? record.retiring : observed;
  const registrationLeft =
    record?.runnerId !== undefined && (observed !== "completed" || record.retiring !== undefined);
  if (record && record.runnerId !== undefined && registrationLeft) {
    const deleted = await deps.github.deleteRunner(record, record.runnerId).catch(
      swallowInto(
        { log, metrics: deps.metrics },
        {
          where: "clean-up.delete-registration",
          message: "could not delete runner registration; the reconciler will retry",
          fields: { runnerId: record.runnerId },
        },
      ),
    );
    if (deleted === "deleted") log.info({ runnerId: record.runnerId }, "runner registration deleted");
  }
  const usage = finalUsage(record?.usage, exit);
  const rerun = await oomRerun(deps, record, observed);
  await engine.remove(containerId);
  // Counted before the slot is freed: the demand that slot wakes must find the backoff begun.
  const crashLoop = await countCrash(deps, record, observed, exit, log).catch(
    swallowInto(
      { log, metrics: deps.metrics },
      { where: "clean-up.count-crash", message: "cannot count a crash before a job; the clean-up goes on" },
    ),
  );
  await deps.runners.retire(
    runnerName,
    {
      exitedAt: deps.now(),
      exitCode: exit?.exitCode,
      oomKilled: exit?.oomKilled ?? false,
      reason,
      usage,
      ...(rerun ? { rerun } : {}),
    },
    logs,
  );
  observeUsage(deps, record, usage);
  await endIdleAtExit(deps, record, observed);
  const pool = labels[LABELS.pool] ?? "unknown";
  await deps.slots.release(pool, runnerName, record?.engine ?? engine.name);
  deps.metrics.runnerExits.inc({ pool, reason });
  if (exit?.oomKilled) deps.metrics.oomKills.inc({ pool });
  const jobId = record?.busyJobId ?? record?.githubJobId ?? numberOrUndefined(labels[LABELS.githubJobId]);
  await deps.feed.record({
    kind: exitEventKind(reason),
    pool,
    runnerName,
    engine: record?.engine ?? engine.name,
    ...(jobId !== undefined ? { jobId } : {}),
    ...(record?.repository ? { repository: record.repository } : {}),
    reason,
  });
  const fields = {
    jobId,
    containerId,
    exitCode: exit?.exitCode,
    oomKilled: exit?.oomKilled ?? false,
    reason,
    peakMemoryBytes: usage?.peakMemoryBytes,
    cpuSeconds: usage?.cpuSeconds,
    rerunPool: rerun?.pool,
    crashesInARow: crashLoop?.crashes,
  };
  if (observed === "completed" || record?.retiring) log.info(fields, "runner exited; container removed");
  else log.warn(fields, "runner ended abnormally; container removed");
}
