import { DelayedError, Worker, type ConnectionOptions, type Job } from "bullmq";
import type { Logger } from "pino";
import type { ContainerEngine } from "../docker/engine.js";
import { PROVISION_QUEUE, runnerOpsQueueName, type ProvisionRequest, type StopRunnerRequest } from "../queue/jobs.js";
import { stopRunner } from "../lifecycle/stop-runner.js";
import type { RunnerStore } from "../state/runner-store.js";
import { secondsBetween } from "../observability/metrics.js";
import { provisionRunner, type ProvisionDeps } from "./provision.js";

export interface WorkerOptions {
  connection: ConnectionOptions;
  prefix: string;
  concurrency: number;
  log: Logger;
}

/**
 * Demand over a ceiling is parked as a delayed entry and woken by the release of a slot; the
 * delay is only the safety net for a wake-up that never comes (a process killed mid-release).
 */
export const PARK_FALLBACK_MS = 30_000;
const ENGINE_FULL_RETRY_MS = 2_000;

async function provisionOrPark(job: Job<ProvisionRequest>, token: string | undefined, deps: ProvisionDeps) {
  const pool = job.data.pool;
  // Taken up for the first time: neither parked nor retried before.
  if (job.data.parkedAt === undefined && job.attemptsMade === 0) {
    const enqueuedAt = job.data.enqueuedAt ?? job.timestamp;
    deps.metrics.queueWaitSeconds.observe({ pool }, secondsBetween(enqueuedAt, deps.now()));
  }
  const outcome = await provisionRunner(job.data, deps);
  if (outcome.kind !== "waiting" || job.id === undefined) return outcome;
  const engine = deps.engine.name;
  const poolFull = outcome.reason === "pool-full";
  if (job.data.parkedAt === undefined) await job.updateData({ ...job.data, parkedAt: deps.now() });
  // Delayed first, parked second: a release only ever pops a parked entry that is already
  // delayed, so it can always promote it. (Parked first, a release between the two steps popped
  // an entry it could not promote, and the wake-up was lost until the safety net.) A release
  // before the entry is parked finds nothing to wake; the re-check below catches it.
  // A full engine is this engine's problem only: come back soon, when a worker of another
  // engine may take the entry, instead of waiting for a slot here.
  await job.moveToDelayed(deps.now() + (poolFull ? PARK_FALLBACK_MS : ENGINE_FULL_RETRY_MS), token);
  await deps.capacity.park(poolFull ? "pool" : "engine", poolFull ? pool : engine, job.id, job.data.queuedAt);
  const fileMaxRunners = deps.pools().find((candidate) => candidate.name === pool)?.maxRunners ?? 0;
  if (await deps.capacity.hasRoom({ pool, fileMaxRunners, engine, engineCapacity: deps.engineCapacity })) {
    await deps.slots.wake(pool, engine);
  }
  throw new DelayedError();
}

/** The provisioner: takes demand from the shared queue and starts runners on this engine. */
export function startProvisionWorker(deps: ProvisionDeps, options: WorkerOptions): Worker<ProvisionRequest> {
  const worker = new Worker<ProvisionRequest>(PROVISION_QUEUE, (job, token) => provisionOrPark(job, token, deps), {
    connection: options.connection,
    prefix: options.prefix,
    concurrency: options.concurrency,
  });
  worker.on("failed", (job, error) =>
    options.log.warn(
      {
        err: error,
        pool: job?.data.pool,
        jobId: job?.data.jobId,
        deliveryId: job?.data.deliveryId,
        queueJobId: job?.id,
        attempt: job?.attemptsMade,
      },
      "provisioning attempt failed",
    ),
  );
  return worker;
}

/**
 * Stops runner containers on this engine: after their job completed (if the runner did not exit
 * by itself), when drained through the admin API, or when the reconciler retires them.
 */
export function startRunnerOpsWorker(
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
          jobId: record.busyJobId ?? record.jobId,
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
