import { Queue, Worker, type ConnectionOptions } from "bullmq";
import type { Logger } from "pino";
import { MAINTENANCE_QUEUE, reconcileQueueName } from "../queue/jobs.js";
import type { Reconciler } from "./reconciler.js";

export interface Schedules {
  close(): Promise<void>;
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
  now: () => number;
  recovery: { everyMs: number; run: () => Promise<unknown> };
  reconcile?: { engine: string; everyMs: number; reconciler: Reconciler };
}): Promise<Schedules> {
  const periodic: Periodic[] = [
    {
      queue: MAINTENANCE_QUEUE,
      name: "recover-deliveries",
      everyMs: options.recovery.everyMs,
      run: options.recovery.run,
    },
  ];
  if (options.reconcile) {
    const { reconciler, engine, everyMs } = options.reconcile;
    periodic.push({ queue: reconcileQueueName(engine), name: "reconcile", everyMs, run: () => reconciler.runOnce() });
  }
  const queues: Queue[] = [];
  const workers: Worker[] = [];
  for (const task of periodic) {
    const queue = new Queue(task.queue, {
      connection: options.connection,
      prefix: options.prefix,
      defaultJobOptions: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
    });
    queues.push(queue);
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
    workers.push(worker);
  }
  return {
    async close() {
      await Promise.all(workers.map((worker) => worker.close()));
      await Promise.all(queues.map((queue) => queue.close()));
    },
  };
}
