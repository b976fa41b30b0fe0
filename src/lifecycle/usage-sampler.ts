import type { Logger } from "pino";
import type { ContainerEngine } from "../docker/engine.js";
import { swallowInto } from "../observability/internal-errors.js";
import type { Metrics } from "../observability/metrics.js";
import type { RunnerStore } from "../state/runner-store.js";

export interface UsageSamplerDeps {
  engine: ContainerEngine;
  runners: RunnerStore;
  metrics: Pick<Metrics, "internalErrors">;
  log: Logger;
  /** Pause between two rounds of readings. */
  intervalMs: number;
}

export interface UsageSampler {
  /** One round of readings now (the timer's work; tests call it directly). */
  sampleOnce(): Promise<void>;
  stop(): Promise<void>;
}

/** Readings taken at once per round, so a round over many runners does not flood the engine. */
const READINGS_AT_ONCE = 8;

/**
 * Reads each running runner's resource use on this engine from Docker stats (one one-shot read
 * per container per round, rounds never overlap) and keeps the peak memory and CPU time on the
 * runner's record, where the exit record inherits them.
 */
export function sampleRunnerUsage(deps: UsageSamplerDeps): UsageSampler {
  const { engine, runners } = deps;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let round: Promise<void> = Promise.resolve();

  async function read(name: string, containerId: string): Promise<void> {
    const usage = await engine.usage(containerId);
    if (usage) await runners.recordUsage(name, usage);
  }

  async function sampleOnce(): Promise<void> {
    // The engine's own list, not the runner records: those of every other engine are not read.
    // A container without a record (being adopted) is read and its reading dropped.
    const running = (await engine.listManaged()).filter((container) => container.state === "running");
    for (let start = 0; start < running.length && !stopped; start += READINGS_AT_ONCE) {
      await Promise.all(
        running.slice(start, start + READINGS_AT_ONCE).map((container) =>
          // Debug: a container that ends between the list and the reading fails it now and then.
          read(container.name, container.id).catch(
            swallowInto(deps, {
              where: "usage-sampler.read",
              message: "could not read runner resource use",
              fields: { runnerName: container.name },
              level: "debug",
            }),
          ),
        ),
      );
    }
  }

  function schedule(): void {
    timer = setTimeout(() => {
      round = sampleOnce()
        .catch(
          swallowInto(deps, {
            where: "usage-sampler.round",
            message: "runner usage round failed; the next round reads again",
            fields: { engine: engine.name },
          }),
        )
        .finally(() => {
          if (!stopped) schedule();
        });
    }, deps.intervalMs);
  }

  schedule();
  return {
    sampleOnce,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await round;
    },
  };
}
