import type { Queue } from "bullmq";
import type { ApplicationFunction } from "probot";
import type { Logger } from "pino";
import type { Pool } from "../config/pools.js";
import { observeRunnerOnline } from "../lifecycle/runner-online.js";
import { secondsBetween, type Metrics } from "../observability/metrics.js";
import { provisionJobId, type ProvisionRequest, type StopRunnerRequest } from "../queue/jobs.js";
import { matchPool } from "../pools/match.js";
import type { DemandLedger } from "../state/demand-ledger.js";
import type { EventFeed } from "../state/event-feed.js";
import type { RunnerStore } from "../state/runner-store.js";
import { demandFor, type WorkflowJobEvent } from "./demand.js";

export interface IntakeDeps {
  /** The pools as the file declares them, read at each use. */
  currentPools: () => readonly Pool[];
  provisionQueue: Queue<ProvisionRequest>;
  runnerOpsQueue: (engine: string) => Queue<StopRunnerRequest>;
  runners: RunnerStore;
  ledger: DemandLedger;
  stopGraceMs: number;
  feed: EventFeed;
  metrics: Metrics;
  log: Logger;
  now: () => number;
}

/**
 * The Probot app: turns workflow_job webhooks into queue entries and runner-record updates.
 * It only talks to Redis, so GitHub gets its answer in milliseconds.
 */
export function intakeApp(deps: IntakeDeps): ApplicationFunction {
  const { metrics } = deps;

  /**
   * The job no longer waits for a runner: taken by one, or finished without one. Returns its pool
   * (undefined: no pool serves it) and the demand it stood for if it was still waiting.
   */
  async function settle(
    job: WorkflowJobEvent["workflow_job"],
  ): Promise<{ pool: string; demand: ProvisionRequest | undefined } | undefined> {
    const match = matchPool(job.labels, deps.currentPools());
    if (match.kind !== "matched") return undefined;
    return { pool: match.pool.name, demand: await deps.ledger.settled(match.pool.name, job.id) };
  }

  const repositoryOf = (event: WorkflowJobEvent) => `${event.repository.owner.login}/${event.repository.name}`;

  /** The fields every line about a job carries; the pool is the runner's when a runner is named. */
  function jobLog(deliveryId: string, job: WorkflowJobEvent["workflow_job"], pool: string | undefined): Logger {
    return deps.log.child({ deliveryId, jobId: job.id, pool, runnerName: job.runner_name ?? undefined });
  }

  return (app) => {
    app.on("workflow_job.queued", async (context) => {
      const event = context.payload as WorkflowJobEvent;
      const log = deps.log.child({ deliveryId: context.id, jobId: event.workflow_job.id });
      const demand = demandFor(event, deps.currentPools(), deps.now());
      if (demand.kind === "ignore") {
        metrics.jobsIgnored.inc({ reason: demand.reason });
        metrics.webhooks.inc({ action: "queued", outcome: "ignored" });
        log.info({ reason: demand.reason, labels: event.workflow_job.labels }, "job ignored: no pool serves it");
        return;
      }
      const request: ProvisionRequest = { ...demand.request, deliveryId: context.id };
      const { pool } = request;
      const fresh = await deps.ledger.queued(request);
      // The job id makes a redelivered webhook a no-op: BullMQ keeps one job per id.
      const job = await deps.provisionQueue.add("provision", request, { jobId: provisionJobId(request.githubJobId) });
      metrics.webhooks.inc({ action: "queued", outcome: "enqueued" });
      if (fresh) {
        metrics.jobsQueued.inc({ pool });
        metrics.webhookDelaySeconds.observe(
          { pool },
          secondsBetween(request.queuedAt, request.enqueuedAt ?? deps.now()),
        );
        await deps.feed.record({
          kind: "queued",
          pool,
          jobId: request.githubJobId,
          repository: `${request.owner}/${request.repo}`,
        });
      }
      log.info({ pool, queueJobId: job.id, labels: request.labels, redelivered: !fresh }, "runner demand enqueued");
    });

    app.on("workflow_job.in_progress", async (context) => {
      const event = context.payload as WorkflowJobEvent;
      const { workflow_job: job } = event;
      const settled = await settle(job);
      if (settled?.demand) {
        metrics.jobsStarted.inc({ pool: settled.pool });
        const since = settled.demand.enqueuedAt ?? settled.demand.queuedAt;
        metrics.jobStartSeconds.observe({ pool: settled.pool }, secondsBetween(since, deps.now()));
      }
      if (!job.runner_name) return;
      const repository = repositoryOf(event);
      const record = await deps.runners.update(job.runner_name, { state: "busy", busyJobId: job.id, repository });
      metrics.webhooks.inc({ action: "in_progress", outcome: record ? "ours" : "not-ours" });
      if (!record) return;
      await observeRunnerOnline(record, deps);
      await deps.feed.record({
        kind: "took-job",
        pool: record.pool,
        runnerName: record.name,
        engine: record.engine,
        jobId: job.id,
        repository,
      });
      jobLog(context.id, job, record.pool).info("runner busy");
    });

    app.on("workflow_job.completed", async (context) => {
      const event = context.payload as WorkflowJobEvent;
      const { workflow_job: job } = event;
      const settled = await settle(job);
      if (settled) metrics.jobsCompleted.inc({ pool: settled.pool, conclusion: job.conclusion ?? "unknown" });
      const completed = {
        kind: "completed",
        jobId: job.id,
        repository: repositoryOf(event),
        ...(job.conclusion ? { reason: job.conclusion } : {}),
      } as const;
      if (!job.runner_name) {
        if (settled) await deps.feed.record({ ...completed, pool: settled.pool });
        // Cancelled before any runner took it: the reconciler retires the runner made for it.
        metrics.webhooks.inc({ action: "completed", outcome: "no-runner" });
        jobLog(context.id, job, settled?.pool).info({ conclusion: job.conclusion }, "job ended without a runner");
        return;
      }
      const record = await deps.runners.update(job.runner_name, { completedAt: deps.now() });
      metrics.webhooks.inc({ action: "completed", outcome: record ? "ours" : "not-ours" });
      if (!record) return;
      await deps.feed.record({ ...completed, pool: record.pool, runnerName: record.name });
      // An ephemeral runner exits by itself after its job; the delayed stop only catches one that hangs.
      await deps
        .runnerOpsQueue(record.engine)
        .add(
          "stop",
          { runnerName: record.name, reason: "job-completed" },
          { jobId: `stop-${record.name}`, delay: deps.stopGraceMs },
        );
      jobLog(context.id, job, record.pool).info(
        { conclusion: job.conclusion, graceMs: deps.stopGraceMs },
        "job completed; stop scheduled",
      );
    });
  };
}
