import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { PROVISION_QUEUE, runnerOpsQueueName, type ProvisionRequest, type StopRunnerRequest } from "./jobs.js";

const DAY_SECONDS = 24 * 3600;

export interface Queues {
  provision: Queue<ProvisionRequest>;
  runnerOps(engine: string): Queue<StopRunnerRequest>;
  close(): Promise<void>;
}

export function createQueues(connection: Redis, prefix: string): Queues {
  const provision = new Queue<ProvisionRequest>(PROVISION_QUEUE, {
    connection,
    prefix,
    defaultJobOptions: {
      attempts: 8,
      backoff: { type: "exponential", delay: 1000 },
      // Finished entries are kept for a day so a late redelivery of the same job id adds nothing.
      removeOnComplete: { age: DAY_SECONDS },
      removeOnFail: { age: 7 * DAY_SECONDS },
    },
  });
  const runnerOps = new Map<string, Queue<StopRunnerRequest>>();
  return {
    provision,
    runnerOps(engine) {
      const name = runnerOpsQueueName(engine);
      let queue = runnerOps.get(name);
      if (!queue) {
        queue = new Queue<StopRunnerRequest>(name, {
          connection,
          prefix,
          defaultJobOptions: { attempts: 3, removeOnComplete: { age: 3600 }, removeOnFail: { age: DAY_SECONDS } },
        });
        runnerOps.set(name, queue);
      }
      return queue;
    },
    async close() {
      await Promise.all([provision.close(), ...[...runnerOps.values()].map((queue) => queue.close())]);
    },
  };
}
