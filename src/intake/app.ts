import type { Queue } from "bullmq";
import type { ApplicationFunction } from "probot";
import type { Logger } from "pino";
import type { Pool } from "../config/pools.js";
import type { Metrics } from "../observability/metrics.js";
import { provisionJobId, type ProvisionRequest, type StopRunnerRequest } from "../queue/jobs.js";
import { matchPool } from "../pools/match.js";
import type { DemandLedger } from "../state/demand-ledger.js";
import type { RunnerStore } from "../state/runner-store.js";
import { demandFor, type WorkflowJobEvent } from "./demand.js";

export interface IntakeDeps {
  pools: () => readonly Pool[];
  provisionQueue: Queue<ProvisionRequest>;
  runnerOpsQueue: (engine: string) => Queue<StopRunnerRequest>;
  runners: RunnerStore;
  ledger: DemandLedger;
  stopGraceMs: number;
  metrics: Metrics;
  log: Logger;
  now: () => number;
}

/**
 * The Probot app: turns workflow_job webhooks into queue entries and runner-record updates.
 * It only talks to Redis, so GitHub gets its answer in milliseconds.
 */
export function intakeApp(deps: IntakeDeps): ApplicationFunction {
  const { log, metrics } = deps;

  /** The job no longer waits for a runner: taken by one, or finished without one. */
  async function settle(job: WorkflowJobEvent["workflow_job"]): Promise<void> {
    const match = matchPool(job.labels, deps.pools());
    if (match.kind === "matched") await deps.ledger.settled(match.pool.name, job.id);
  }

  return (app) => {
    app.on("workflow_job.queued", async (context) => {
      const event = context.payload as WorkflowJobEvent;
      const jobLog = log.child({
        deliveryId: context.id,
        jobId: event.workflow_job.id,
        labels: event.workflow_job.labels,
      });
      const demand = demandFor(event, deps.pools(), deps.now());
      if (demand.kind === "ignore") {
        metrics.jobsIgnored.inc({ reason: demand.reason });
        metrics.webhooks.inc({ action: "queued", outcome: "ignored" });
        jobLog.info({ reason: demand.reason }, "job ignored: no pool serves it");
        return;
      }
      const { request } = demand;
      await deps.ledger.queued(request);
      // The job id makes a redelivered webhook a no-op: BullMQ keeps one job per id.
      const job = await deps.provisionQueue.add("provision", request, { jobId: provisionJobId(request.jobId) });
      metrics.webhooks.inc({ action: "queued", outcome: "enqueued" });
      jobLog.info({ pool: request.pool, queueJobId: job.id }, "runner demand enqueued");
    });

    app.on("workflow_job.in_progress", async (context) => {
      const { workflow_job: job } = context.payload as WorkflowJobEvent;
      await settle(job);
      if (!job.runner_name) return;
      const record = await deps.runners.update(job.runner_name, { state: "busy", busyJobId: job.id });
      metrics.webhooks.inc({ action: "in_progress", outcome: record ? "ours" : "not-ours" });
      if (record) log.info({ runnerName: record.name, jobId: job.id, pool: record.pool }, "runner busy");
    });

    app.on("workflow_job.completed", async (context) => {
      const { workflow_job: job } = context.payload as WorkflowJobEvent;
      await settle(job);
      if (!job.runner_name) {
        // Cancelled before any runner took it: the reconciler retires the runner made for it.
        metrics.webhooks.inc({ action: "completed", outcome: "no-runner" });
        log.info({ jobId: job.id }, "job ended without a runner");
        return;
      }
      const record = await deps.runners.update(job.runner_name, { completedAt: deps.now() });
      metrics.webhooks.inc({ action: "completed", outcome: record ? "ours" : "not-ours" });
      if (!record) return;
      // An ephemeral runner exits by itself after its job; the delayed stop only catches one that hangs.
      await deps
        .runnerOpsQueue(record.engine)
        .add(
          "stop",
          { runnerName: record.name, reason: "job-completed" },
          { jobId: `stop-${record.name}`, delay: deps.stopGraceMs },
        );
      log.info({ runnerName: record.name, jobId: job.id, graceMs: deps.stopGraceMs }, "job completed; stop scheduled");
    });
  };
}
