import { Webhooks } from "@octokit/webhooks";
import type { Queue } from "bullmq";
import type { Logger } from "pino";
import type { Pool } from "../config/pools.js";
import { observeRunnerOnline } from "../provisioning/runner-online.js";
import { swallowInto } from "../observability/internal-errors.js";
import { secondsBetween, type Metrics } from "../observability/metrics.js";
import { provisionJobId, type ProvisionRequest, type StopRunnerRequest } from "../queue/jobs.js";
import { routePool } from "../pools/match.js";
import type { CrashLoopStore } from "../state/crash-loops.js";
import type { DemandLedger } from "../state/demand-ledger.js";
import type { EventFeed } from "../state/event-feed.js";
import type { OomRerunClaim, OomRerunStore, RerunJobRef } from "../state/oom-reruns.js";
import type { RunnerRecord, RunnerStore } from "../state/runner-store.js";
import { demandFor, type WorkflowJobEvent } from "./demand.js";

export interface IntakeDeps {
  /** The pools as the file declares them, read at each use. */
  currentPools: () => readonly Pool[];
  provisionQueue: Queue<ProvisionRequest>;
  runnerOpsQueue: (engine: string) => Queue<StopRunnerRequest>;
  runners: RunnerStore;
  ledger: DemandLedger;
  /** Jobs re-run after an OOM kill, routed to the bigger pool runnerhub chose for them. */
  oomReruns: OomRerunStore;
  /** A runner taking a job ends its pool's crash loop. */
  crashLoops: Pick<CrashLoopStore, "clear">;
  stopGraceMs: number;
  /** A webhook was answered with an error: the missed-delivery recovery should look soon. */
  suspectMiss: () => Promise<void>;
  feed: EventFeed;
  metrics: Metrics;
  log: Logger;
  now: () => number;
}

/**
 * Turns workflow_job webhooks into queue entries and runner-record updates. It only talks to
 * Redis, so GitHub gets its answer in milliseconds.
 *
 * @octokit/webhooks (what Probot's middleware runs on) verifies the signature and parses the body
 * once; Probot itself is left out of the hot path because it builds an installation-authenticated
 * Octokit for every event, which these handlers never use (docs/benchmarks.md).
 */
export function intakeWebhooks(deps: IntakeDeps & { secret: string }): Webhooks {
  const { metrics } = deps;

  const jobRef = (event: WorkflowJobEvent): RerunJobRef => ({
    owner: event.repository.owner.login,
    repo: event.repository.name,
    runId: event.workflow_job.run_id,
    name: event.workflow_job.name,
  });

  /** The OOM re-run this job is, if it is one (only re-run attempts cost a Redis read). */
  async function oomRerunOf(event: WorkflowJobEvent): Promise<OomRerunClaim | undefined> {
    if (!(event.workflow_job.run_attempt > 1)) return undefined;
    return deps.oomReruns.claimOf(jobRef(event));
  }

  /**
   * The job no longer waits for a runner: taken by one, or finished without one. Returns its pool
   * (undefined: no pool serves it) and the demand it stood for if it was still waiting.
   */
  async function settle(
    event: WorkflowJobEvent,
  ): Promise<{ pool: string; demand: ProvisionRequest | undefined } | undefined> {
    const job = event.workflow_job;
    const match = routePool(job.labels, deps.currentPools(), (await oomRerunOf(event))?.toPool);
    if (match.kind !== "matched") return undefined;
    return { pool: match.pool.name, demand: await deps.ledger.settled(match.pool.name, job.id) };
  }

  const repositoryOf = (event: WorkflowJobEvent) => `${event.repository.owner.login}/${event.repository.name}`;

  /**
   * The record of the runner a webhook names, if it is ours and belongs to the webhook's
   * installation: another installation's webhook never touches it (counted and logged).
   */
  async function runnerOf(
    deliveryId: string,
    event: WorkflowJobEvent,
    action: "in_progress" | "completed",
  ): Promise<RunnerRecord | undefined> {
    const name = event.workflow_job.runner_name;
    if (!name) return undefined;
    const record = await deps.runners.get(name);
    if (!record) {
      metrics.webhooks.inc({ action, outcome: "not-ours" });
      return undefined;
    }
    if (record.installationId !== event.installation?.id) {
      metrics.webhooks.inc({ action, outcome: "other-installation" });
      deps.log.warn(
        {
          ...jobFields(deliveryId, event.workflow_job, record.pool),
          installationId: event.installation?.id,
          runnerInstallationId: record.installationId,
        },
        "webhook names a runner of another installation; ignored",
      );
      return undefined;
    }
    return record;
  }

  /**
   * The fields every line about a job carries; the pool is the runner's when a runner is named.
   * Fields, not a child logger: building one per webhook is too dear at a burst's rate
   * (docs/benchmarks.md).
   */
  function jobFields(deliveryId: string, job: WorkflowJobEvent["workflow_job"], pool: string | undefined) {
    return { deliveryId, jobId: job.id, pool, runnerName: job.runner_name ?? undefined };
  }

  const webhooks = new Webhooks({ secret: deps.secret });
  // GitHub records the failed delivery; the recovery pass redelivers it. With Redis down the mark
  // cannot be written either, and the recovery's periodic look finds the failure.
  webhooks.onError(() =>
    deps.suspectMiss().catch(
      swallowInto(deps, {
        where: "intake.suspect-miss",
        message: "could not ask the delivery recovery to look; its periodic look finds the failed delivery",
      }),
    ),
  );
  webhooks.on("workflow_job.queued", async (context) => {
    const event = context.payload as WorkflowJobEvent;
    // No child logger per webhook, for the reason given at jobFields.
    const fields = { deliveryId: context.id, jobId: event.workflow_job.id };
    const rerun = await oomRerunOf(event);
    const demand = demandFor(event, deps.currentPools(), deps.now(), rerun?.toPool);
    if (demand.kind === "ignore") {
      metrics.jobsIgnored.inc({ reason: demand.reason });
      metrics.webhooks.inc({ action: "queued", outcome: "ignored" });
      deps.log.info(
        { ...fields, reason: demand.reason, labels: event.workflow_job.labels },
        "job ignored: no pool serves it",
      );
      return;
    }
    const request: ProvisionRequest = { ...demand.request, deliveryId: context.id };
    const { pool } = request;
    if (rerun && pool === rerun.toPool) {
      if (rerun.requeuedJobId === undefined) {
        await deps.oomReruns.markRequeued(jobRef(event), rerun, request.githubJobId);
      }
      deps.log.info(
        { ...fields, pool, oomKilledIn: rerun.fromPool, firstJobId: rerun.jobId },
        "job re-run after an OOM kill goes to the bigger pool",
      );
    }
    const recorded = await deps.ledger.queued(request, {
      kind: "queued",
      at: deps.now(),
      pool,
      jobId: request.githubJobId,
      repository: `${request.owner}/${request.repo}`,
    });
    if (recorded === "settled") {
      metrics.webhooks.inc({ action: "queued", outcome: "settled" });
      deps.log.info({ ...fields, pool }, "late queued ignored: the job was already taken or finished");
      return;
    }
    const fresh = recorded === "added";
    // The job id makes a redelivered webhook a no-op: BullMQ keeps one job per id.
    const job = await deps.provisionQueue.add("provision", request, { jobId: provisionJobId(request.githubJobId) });
    metrics.webhooks.inc({ action: "queued", outcome: "enqueued" });
    if (fresh) {
      metrics.jobsQueued.inc({ pool });
      metrics.webhookDelaySeconds.observe({ pool }, secondsBetween(request.queuedAt, request.enqueuedAt ?? deps.now()));
    }
    // Debug: a line per webhook is too dear at a burst's rate (docs/benchmarks.md); the worker
    // logs each runner it starts at info.
    deps.log.debug(
      { ...fields, pool, queueJobId: job.id, labels: request.labels, redelivered: !fresh },
      "runner demand enqueued",
    );
  });

  webhooks.on("workflow_job.in_progress", async (context) => {
    const event = context.payload as WorkflowJobEvent;
    const { workflow_job: job } = event;
    const settled = await settle(event);
    if (settled?.demand) {
      metrics.jobsStarted.inc({ pool: settled.pool });
      const since = settled.demand.enqueuedAt ?? settled.demand.queuedAt;
      metrics.jobStartSeconds.observe({ pool: settled.pool }, secondsBetween(since, deps.now()));
    }
    const ours = await runnerOf(context.id, event, "in_progress");
    if (!ours) return;
    const repository = repositoryOf(event);
    const { owner, repo, runId, name } = jobRef(event);
    const record = await deps.runners.update(ours.name, {
      state: "busy",
      busyJobId: job.id,
      repository,
      busyJob: { runId, name, owner, repo, labels: job.labels },
    });
    metrics.webhooks.inc({ action: "in_progress", outcome: record ? "ours" : "not-ours" });
    if (!record) return;
    await observeRunnerOnline(record, deps);
    if (await deps.crashLoops.clear(record.pool)) {
      deps.log.info(jobFields(context.id, job, record.pool), "a runner of the pool took a job; its crash loop is over");
    }
    await deps.feed.record({
      kind: "took-job",
      pool: record.pool,
      runnerName: record.name,
      engine: record.engine,
      jobId: job.id,
      repository,
    });
    deps.log.info(jobFields(context.id, job, record.pool), "runner busy");
  });

  webhooks.on("workflow_job.completed", async (context) => {
    const event = context.payload as WorkflowJobEvent;
    const { workflow_job: job } = event;
    const settled = await settle(event);
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
      deps.log.info(
        { ...jobFields(context.id, job, settled?.pool), conclusion: job.conclusion },
        "job ended without a runner",
      );
      return;
    }
    const ours = await runnerOf(context.id, event, "completed");
    if (!ours) return;
    const record = await deps.runners.update(ours.name, { completedAt: deps.now() });
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
    deps.log.info(
      {
        ...jobFields(context.id, job, record.pool),
        conclusion: job.conclusion,
        graceMs: deps.stopGraceMs,
      },
      "job completed; stop scheduled",
    );
  });
  return webhooks;
}
