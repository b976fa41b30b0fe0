import { Queue, type ConnectionOptions } from "bullmq";
import type { Logger } from "pino";
import type { Redis } from "ioredis";
import {
  OOM_RERUN_QUEUE,
  PROVISION_QUEUE,
  runnerOpsQueueName,
  type OomRerunRequest,
  type ProvisionRequest,
  type StopRunnerRequest,
} from "./jobs.js";
import {
  OOM_RERUN_ATTEMPTS,
  OOM_RERUN_KEEP_SECONDS,
  PROVISION_ATTEMPTS,
  PROVISION_BACKOFF_MS,
  PROVISION_KEEP_COMPLETED_SECONDS,
  PROVISION_KEEP_FAILED_SECONDS,
  RUNNER_OPS_ATTEMPTS,
  RUNNER_OPS_KEEP_COMPLETED_SECONDS,
  RUNNER_OPS_KEEP_FAILED_SECONDS,
} from "../tunables.js";

/** What every BullMQ worker of this process is started with. */
export interface WorkerOptions {
  connection: ConnectionOptions;
  prefix: string;
  concurrency: number;
  log: Logger;
}

export interface Queues {
  provision: Queue<ProvisionRequest>;
  runnerOps(engine: string): Queue<StopRunnerRequest>;
  /** Jobs to re-run on a bigger pool after an OOM kill, each asked again until its run completed. */
  oomRerun: Queue<OomRerunRequest>;
  close(): Promise<void>;
}

export function createQueues(connection: Redis, prefix: string): Queues {
  const provision = new Queue<ProvisionRequest>(PROVISION_QUEUE, {
    connection,
    prefix,
    defaultJobOptions: {
      attempts: PROVISION_ATTEMPTS,
      backoff: { type: "exponential", delay: PROVISION_BACKOFF_MS },
      removeOnComplete: { age: PROVISION_KEEP_COMPLETED_SECONDS },
      removeOnFail: { age: PROVISION_KEEP_FAILED_SECONDS },
    },
  });
  const oomRerun = new Queue<OomRerunRequest>(OOM_RERUN_QUEUE, {
    connection,
    prefix,
    defaultJobOptions: {
      attempts: OOM_RERUN_ATTEMPTS,
      backoff: { type: "custom" },
      removeOnComplete: { age: OOM_RERUN_KEEP_SECONDS },
      removeOnFail: { age: OOM_RERUN_KEEP_SECONDS },
    },
  });
  const runnerOps = new Map<string, Queue<StopRunnerRequest>>();
  return {
    provision,
    oomRerun,
    runnerOps(engine) {
      const name = runnerOpsQueueName(engine);
      let queue = runnerOps.get(name);
      if (!queue) {
        queue = new Queue<StopRunnerRequest>(name, {
          connection,
          prefix,
          defaultJobOptions: {
            attempts: RUNNER_OPS_ATTEMPTS,
            removeOnComplete: { age: RUNNER_OPS_KEEP_COMPLETED_SECONDS },
            removeOnFail: { age: RUNNER_OPS_KEEP_FAILED_SECONDS },
          },
        });
        runnerOps.set(name, queue);
      }
      return queue;
    },
    async close() {
      await Promise.all([
        provision.close(),
        oomRerun.close(),
        ...[...runnerOps.values()].map((queue) => queue.close()),
      ]);
    },
  };
}
