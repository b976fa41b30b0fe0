import { Worker, type ConnectionOptions } from "bullmq";
import type { Logger } from "pino";
import type { ContainerEngine } from "../docker/engine.js";
import { PROVISION_QUEUE, runnerOpsQueueName, type ProvisionRequest, type StopRunnerRequest } from "../queue/jobs.js";
import type { RunnerStore } from "../state/runner-store.js";
import { provisionRunner, type ProvisionDeps } from "./provision.js";

export interface WorkerOptions {
  connection: ConnectionOptions;
  prefix: string;
  concurrency: number;
  log: Logger;
}

/** The provisioner: takes demand from the shared queue and starts runners on this engine. */
export function startProvisionWorker(deps: ProvisionDeps, options: WorkerOptions): Worker<ProvisionRequest> {
  const worker = new Worker<ProvisionRequest>(PROVISION_QUEUE, (job) => provisionRunner(job.data, deps), {
    connection: options.connection,
    prefix: options.prefix,
    concurrency: options.concurrency,
  });
  worker.on("failed", (job, error) =>
    options.log.warn({ err: error, queueJobId: job?.id, attempt: job?.attemptsMade }, "provisioning attempt failed"),
  );
  return worker;
}

/** Stops runners on this engine whose job completed but whose container did not exit by itself. */
export function startRunnerOpsWorker(
  deps: { engine: ContainerEngine; runners: RunnerStore; log: Logger },
  options: WorkerOptions,
): Worker<StopRunnerRequest> {
  return new Worker<StopRunnerRequest>(
    runnerOpsQueueName(deps.engine.name),
    async (job) => {
      const record = await deps.runners.get(job.data.runnerName);
      if (!record?.containerId || !(await deps.engine.isRunning(record.containerId))) return;
      deps.log.warn({ runnerName: record.name, containerId: record.containerId }, "runner still running after its job; stopping it");
      await deps.engine.stop(record.containerId, 10);
    },
    { connection: options.connection, prefix: options.prefix, concurrency: options.concurrency },
  );
}
