import type { Logger } from "pino";
import { hasEnded, type ContainerEngine, type ContainerExit, type ManagedContainer } from "../docker/engine.js";
import { LABELS } from "../docker/labels.js";
import type { RunnersApi } from "../github/runners-api.js";
import type { Metrics } from "../observability/metrics.js";
import type { SlotKeeper } from "../provisioning/slots.js";
import type { RunnerRecord, RunnerStore, RunnerUsage } from "../state/runner-store.js";
import { exitReason, type ExitReason } from "./exit-reason.js";
import { maskSecrets, secretValuesOf, tailOf } from "./runner-logs.js";

export interface ExitWatcherDeps {
  engine: ContainerEngine;
  runners: RunnerStore;
  slots: SlotKeeper;
  github: RunnersApi;
  metrics: Metrics;
  log: Logger;
  now: () => number;
  /** Waits before re-opening a broken event stream; injected so tests need not wait. */
  reconnectDelayMs: (attempt: number) => number;
}

export interface ExitWatcher {
  /** Resolves once the event stream is open and containers that exited earlier are handled. */
  ready: Promise<void>;
  /** Cleans up after one ended container (the reconciler's entry for exits nobody saw). */
  cleanUp(containerId: string, labels: Record<string, string>): Promise<void>;
  /** Closes the stream and waits for clean-ups under way. */
  stop(): Promise<void>;
}

function numberOrUndefined(text: string | undefined): number | undefined {
  const value = Number(text);
  return text && Number.isFinite(value) ? value : undefined;
}

/**
 * How much of an ended runner's output is kept with its exit record: the last 64 KiB when it
 * ended abnormally (the lines that say why), a little when it completed (cheap at a day's volume).
 */
export const KEPT_LOG_BYTES = { abnormal: 64 * 1024, completed: 4 * 1024 } as const;
/** Docker splits log lines at 16 KiB, so this many lines bound what is read for the tail. */
const KEPT_LOG_LINES = { abnormal: 2000, completed: 200 } as const;

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

/**
 * Cleans up after runner containers that end: removes the container, withdraws a registration
 * GitHub still holds, and retires the runner record with the reason.
 */
export function watchRunnerExits(deps: ExitWatcherDeps): ExitWatcher {
  const { engine, log } = deps;
  let closeStream: (() => void) | undefined;
  let stopped = false;
  let lastEventNano: number | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  const inFlight = new Map<string, Promise<void>>();

  /** The container's last lines, secrets masked; undefined when they cannot be read (never fails a clean-up). */
  async function lastLines(containerId: string, observed: ExitReason, runnerName: string): Promise<string | undefined> {
    const kind = observed === "completed" ? "completed" : "abnormal";
    try {
      const [env, text] = await Promise.all([
        engine.environment(containerId),
        engine.logTail(containerId, KEPT_LOG_LINES[kind]),
      ]);
      if (text === undefined) return undefined;
      return tailOf(maskSecrets(text, secretValuesOf(env ?? [])), KEPT_LOG_BYTES[kind]);
    } catch (error) {
      log.warn({ err: error, containerId, runnerName }, "could not read the runner's last log lines");
      return undefined;
    }
  }

  function observeUsage(record: RunnerRecord | undefined, usage: RunnerUsage | undefined): void {
    // Per job: a runner that never took one says nothing about what jobs need.
    if (!record || record.busyJobId === undefined || !usage) return;
    deps.metrics.runnerPeakMemory.observe({ pool: record.pool }, usage.peakMemoryBytes);
    deps.metrics.runnerCpuSeconds.observe({ pool: record.pool }, usage.cpuSeconds);
  }

  async function cleanUp(containerId: string, labels: Record<string, string>): Promise<void> {
    const runnerName = labels[LABELS.runnerName] ?? "";
    const status = await engine.status(containerId);
    // A list taken a moment ago may have caught a container between create and start.
    if (status.kind === "alive") return;
    // Several processes may watch one engine; one of them cleans up after each container.
    if (!(await deps.runners.claimCleanup(containerId))) return;
    const exit = status.kind === "ended" ? status.exit : undefined;
    const observed = exitReason(exit);
    const record = runnerName ? await deps.runners.get(runnerName) : undefined;
    // Already handled: events can repeat after a stream resumes from the last second seen.
    if (!exit && !record) return;
    // A runner that finished its job was already removed by GitHub; any other still holds a registration.
    // An OOM kill is worth knowing even when runnerhub was stopping the runner anyway.
    const reason = record?.retiring && observed !== "oom-killed" ? record.retiring : observed;
    const registrationLeft = record?.runnerId !== undefined && (observed !== "completed" || record.state !== "busy");
    if (record && record.runnerId !== undefined && registrationLeft) {
      const deleted = await deps.github.deleteRunner(record, record.runnerId).catch((error: unknown) => {
        log.warn({ err: error, runnerName }, "could not delete runner registration; the reconciler will retry");
        return undefined;
      });
      if (deleted === "deleted") log.info({ runnerName, runnerId: record.runnerId }, "runner registration deleted");
    }
    const logs = exit ? await lastLines(containerId, observed, runnerName) : undefined;
    const usage = finalUsage(record?.usage, exit);
    await engine.remove(containerId);
    await deps.runners.retire(
      runnerName,
      { exitedAt: deps.now(), exitCode: exit?.exitCode, oomKilled: exit?.oomKilled ?? false, reason, usage },
      logs,
    );
    observeUsage(record, usage);
    const pool = labels[LABELS.pool] ?? "unknown";
    await deps.slots.release(pool, record?.engine ?? engine.name, runnerName);
    deps.metrics.runnerExits.inc({ pool, reason });
    if (exit?.oomKilled) deps.metrics.oomKills.inc({ pool });
    const fields = {
      pool,
      runnerName,
      jobId: record?.busyJobId ?? record?.jobId ?? numberOrUndefined(labels[LABELS.jobId]),
      containerId,
      exitCode: exit?.exitCode,
      oomKilled: exit?.oomKilled ?? false,
      reason,
      peakMemoryBytes: usage?.peakMemoryBytes,
      cpuSeconds: usage?.cpuSeconds,
    };
    if (observed === "completed" || record?.retiring) log.info(fields, "runner exited; container removed");
    else log.warn(fields, "runner ended abnormally; container removed");
  }

  function handle(containerId: string, labels: Record<string, string>): Promise<void> {
    const running = inFlight.get(containerId);
    if (running) return running;
    const work = cleanUp(containerId, labels)
      .catch((error: unknown) => log.error({ err: error, containerId }, "runner cleanup failed"))
      .finally(() => inFlight.delete(containerId));
    inFlight.set(containerId, work);
    return work;
  }

  async function sweep(containers: ManagedContainer[]): Promise<void> {
    await Promise.all(containers.filter((c) => hasEnded(c.state)).map((c) => handle(c.id, c.labels)));
  }

  async function connect(attempt: number): Promise<void> {
    const close = await engine.watch(
      lastEventNano,
      (event) => {
        lastEventNano = event.timeNano;
        // die carries the exit status (and OOMKilled); destroy catches a container removed by
        // hand (docker rm -f), whose runner record and slot would otherwise linger.
        if (event.action === "die" || event.action === "destroy") void handle(event.containerId, event.labels);
        else
          log.info(
            { containerId: event.containerId, event: event.action, runnerName: event.labels[LABELS.runnerName] },
            "runner container event",
          );
      },
      (error) => {
        if (stopped) return;
        log.warn({ err: error, engine: engine.name }, "docker event stream ended; reconnecting");
        scheduleReconnect(0);
      },
    );
    // stop() may have come while the stream was being opened.
    if (stopped) {
      close();
      return;
    }
    closeStream = close;
    // Containers that ended while no stream was open produced events nobody saw.
    await sweep(await engine.listManaged());
    if (attempt > 0) log.info({ engine: engine.name, attempt }, "docker event stream re-opened");
  }

  function scheduleReconnect(attempt: number): void {
    retryTimer = setTimeout(() => {
      if (stopped) return;
      connect(attempt + 1).catch((error: unknown) => {
        log.warn({ err: error, engine: engine.name, attempt: attempt + 1 }, "docker engine unreachable; will retry");
        scheduleReconnect(attempt + 1);
      });
    }, deps.reconnectDelayMs(attempt));
  }

  return {
    ready: connect(0),
    cleanUp: handle,
    async stop() {
      stopped = true;
      if (retryTimer) clearTimeout(retryTimer);
      closeStream?.();
      await Promise.all(inFlight.values());
    },
  };
}
