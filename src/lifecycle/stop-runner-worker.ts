import { Worker } from "bullmq";
import type { Logger } from "pino";
import type { ContainerEngine } from "../docker/engine.js";
import { runnerOpsQueueName, type StopRunnerRequest } from "../queue/jobs.js";
import type { WorkerOptions } from "../queue/queues.js";
import type { RunnerStore } from "../state/runner-store.js";
import { stopRunner } from "./stop-runner.js";

/**
 * Stops runner containers on this engine: after their job completed (if the runner did not exit
 * by itself), or when drained through the admin API.
 */
export function startStopRunnerWorker(
  deps: { engine: ContainerEngine; runners: RunnerStore; log: Logger },
  options: WorkerOptions,
): Worker<StopRunnerRequest> {
  return new Worker<StopRunnerRequest>(
    runnerOpsQueueName(deps.engine.name),
    async (job) => {
      const record = await deps.runners.get(job.data.runnerName);
      if (!record?.containerId || !(await deps.engine.isRunning(record.containerId))) return;
      deps.log.info(
        {
          pool: record.pool,
          runnerName: record.name,
          jobId: record.busyJobId ?? record.githubJobId,
          containerId: record.containerId,
          reason: job.data.reason,
        },
        "stopping runner",
      );
      await stopRunner(deps, record.name, record.containerId, job.data.reason);
    },
    { connection: options.connection, prefix: options.prefix, concurrency: options.concurrency },
  );
}
