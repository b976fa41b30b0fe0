import { Queue, Worker, type ConnectionOptions } from "bullmq";
import type { Logger } from "pino";
import { swallowInto } from "../observability/internal-errors.js";
import type { Metrics } from "../observability/metrics.js";
import { imagesQueueName, MAINTENANCE_QUEUE, POOL_HISTORY_QUEUE, reconcileQueueName } from "../queue/jobs.js";
import type { Reconciler } from "./reconciler.js";
import { PERIODIC_RUNS_KEPT } from "../tunables.js";

/** Where each started queue and worker registers how to stop it (the runtime's TeardownStack). */
export interface Teardown {
  defer(what: string, stop: () => Promise<unknown>): void;
}

interface Periodic {
  queue: string;
  name: string;
  everyMs: number;
  run: () => Promise<unknown>;
}

/**
 * Periodic work as BullMQ job schedulers: every process upserts the same scheduler, Redis keeps
 * one, and each run goes to exactly one worker. A run also starts at once, so state left by a
 * crash or a webhook outage is repaired at start-up rather than one interval later.
 */
export async function startSchedules(options: {
  connection: ConnectionOptions;
  prefix: string;
  log: Logger;
  metrics: Pick<Metrics, "internalErrors">;
  now: () => number;
  recovery: { everyMs: number; run: () => Promise<unknown> };
  /** Samples each pool for the dashboard's charts. */
  history: { everyMs: number; run: () => Promise<unknown> };
  reconcile?: { engine: string; everyMs: number; reconciler: Reconciler };
  teardown: Teardown;
  /** Pre-pulls pool images at start (without holding start-up), then refreshes and cleans up. */
  images?: { engine: string; everyMs: number; run: () => Promise<unknown> };
}): Promise<void> {
  const periodic: Periodic[] = [
    {
      queue: MAINTENANCE_QUEUE,
      name: "recover-deliveries",
      everyMs: options.recovery.everyMs,
      run: options.recovery.run,
    },
    { queue: POOL_HISTORY_QUEUE, name: "sample-pools", everyMs: options.history.everyMs, run: options.history.run },
  ];
  if (options.reconcile) {
    const { reconciler, engine, everyMs } = options.reconcile;
    periodic.push({ queue: reconcileQueueName(engine), name: "reconcile", everyMs, run: () => reconciler.runOnce() });
  }
  if (options.images) {
    const { engine, everyMs, run } = options.images;
    periodic.push({ queue: imagesQueueName(engine), name: "images", everyMs, run });
  }
  for (const task of periodic) {
    const queue = new Queue(task.queue, {
      connection: options.connection,
      prefix: options.prefix,
      defaultJobOptions: {
        removeOnComplete: { count: PERIODIC_RUNS_KEPT },
        removeOnFail: { count: PERIODIC_RUNS_KEPT },
      },
    });
    options.teardown.defer(`${task.name} queue`, () => queue.close());
    await queue.upsertJobScheduler(task.name, { every: task.everyMs });
    await queue.add(task.name, {}, { jobId: `${task.name}-start-${options.now()}` });
    const worker = new Worker(task.queue, () => task.run(), {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: 1,
    });
    worker.on("failed", (job, error) =>
      options.log.warn({ err: error, task: task.name, queueJobId: job?.id }, "periodic task failed"),
    );
    options.teardown.defer(`${task.name} worker`, () => worker.close());
    // A Redis that lost its data (a restart without persistence, a failover to a stale replica)
    // lost the scheduler too: each process checks once an interval and puts it back.
    const check = setInterval(() => {
      void (async () => {
        if (await queue.getJobScheduler(task.name)) return;
        await queue.upsertJobScheduler(task.name, { every: task.everyMs });
        options.log.warn({ task: task.name }, "periodic task's scheduler was gone from Redis; put back");
      })().catch(
        swallowInto(options, {
          where: "schedules.check",
          message: "cannot check the periodic task's scheduler; the next interval checks again",
          fields: { task: task.name },
        }),
      );
    }, task.everyMs);
    options.teardown.defer(`${task.name} scheduler check`, async () => clearInterval(check));
  }
}
