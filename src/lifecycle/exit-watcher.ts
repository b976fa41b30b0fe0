import { hasEnded, type ManagedContainer } from "../docker/engine.js";
import { LABELS } from "../docker/labels.js";
import { reportSwallowed, swallowInto } from "../observability/internal-errors.js";
import { cleanUpRunner, type CleanUpDeps } from "./clean-up.js";

export interface ExitWatcherDeps extends CleanUpDeps {
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

/**
 * Watches the engine's events for runner containers that end and cleans up after each once
 * (lifecycle/clean-up.ts), also after containers that ended while no stream was open.
 */
export function watchRunnerExits(deps: ExitWatcherDeps): ExitWatcher {
  const { engine, log } = deps;
  let closeStream: (() => void) | undefined;
  let stopped = false;
  let lastEventNano: number | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  const inFlight = new Map<string, Promise<void>>();

  function handle(containerId: string, labels: Record<string, string>): Promise<void> {
    const running = inFlight.get(containerId);
    if (running) return running;
    const work = cleanUpRunner(deps, containerId, labels)
      .catch(
        swallowInto(deps, {
          where: "exit-watcher.clean-up",
          message: "runner cleanup failed; the reconciler cleans up after the container",
          fields: { containerId },
          level: "error",
        }),
      )
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
            {
              pool: event.labels[LABELS.pool],
              runnerName: event.labels[LABELS.runnerName],
              containerId: event.containerId,
              event: event.action,
            },
            "runner container event",
          );
      },
      (error) => {
        if (stopped) return;
        reportSwallowed(deps, error, {
          where: "exit-watcher.stream-ended",
          message: "docker event stream ended; reconnecting",
          fields: { engine: engine.name },
        });
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
        reportSwallowed(deps, error, {
          where: "exit-watcher.reconnect",
          message: "docker engine unreachable; will retry",
          fields: { engine: engine.name, attempt: attempt + 1 },
        });
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
