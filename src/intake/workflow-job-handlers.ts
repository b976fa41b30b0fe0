import type { Queue } from "bullmq";
import type { Logger } from "pino";
import type { Pool } from "../config/pools.js";
import { observeRunnerOnline } from "../provisioning/runner-online.js";
import { secondsBetween, type Metrics } from "../observability/metrics.js";
import { provisionJobId, type ProvisionRequest, type StopRunnerRequest } from "../queue/jobs.js";
import { routePool } from "../pools/match.js";
import type { CrashLoopStore } from "../pools/crash-loop-store.js";
import type { DemandLedger } from "../state/demand-ledger.js";
import type { PoolHistoryStore } from "../history/pool-history-store.js";
import type { EventFeed } from "../state/event-feed.js";
import type { OomRerunClaim, OomRerunStore, RerunJobRef } from "../lifecycle/oom-rerun-store.js";
import type { RunnerRecord, RunnerStore } from "../state/runner-store.js";
import { demandFor, type WorkflowJobEvent } from "./demand.js";
import type { PoolCatalog } from "../pools/catalog.js";
import { endIdleTime } from "../lifecycle/idle-time.js";
import { replaceTakenWarmRunner, warmUpOnArrival } from "./warm-replacement.js";
import type { Slots } from "../slots/slots.js";
import type { UnmatchedJobStore } from "../pools/unmatched-store.js";
import { recordUnmatched } from "./unmatched.js";

export interface WorkflowJobHandlerDeps {
  pools: PoolCatalog;
  provisionQueue: Queue<ProvisionRequest>;
  runnerOpsQueue: (engine: string) => Queue<StopRunnerRequest>;
  runners: RunnerStore;
  ledger: DemandLedger;
  /** The pools' slot holders: the room a replacement for a taken warm runner may use. */
  slots: Pick<Slots, "holders">;
  /** The idle runners a pool keeps now, which a replacement for a taken warm runner aims at. */
  warmTargetOf: (pool: Pool) => Promise<number>;
  /** Each pickup is kept for the dashboard's percentiles. */
  history: Pick<PoolHistoryStore, "recordPickup">;
  /** Jobs re-run after an OOM kill, routed to the bigger pool runnerhub chose for them. */
  oomReruns: OomRerunStore;
  /** A runner taking a job ends its pool's crash loop. */
  crashLoops: Pick<CrashLoopStore, "clear">;
  /** Queued self-hosted jobs no pool serves, shown until they are taken or end. */
  unmatched: Pick<UnmatchedJobStore, "record" | "forget">;
  stopGraceMs: number;
  feed: EventFeed;
  metrics: Metrics;
  log: Logger;
  now: () => number;
}

/** The workflow_job actions runnerhub acts on; GitHub's others (such as `waiting`) are answered and left alone. */
export type WorkflowJobAction = "queued" | "in_progress" | "completed";

export function isHandledAction(action: unknown): action is WorkflowJobAction {
  return action === "queued" || action === "in_progress" || action === "completed";
}

/** One handler per action; each resolves once what it writes is in Redis. */
export type WorkflowJobHandlers = Record<
  WorkflowJobAction,
  (deliveryId: string, event: WorkflowJobEvent) => Promise<void>
>;

/**
 * Turns workflow_job webhooks into queue entries and runner-record updates. It only talks to
 * Redis, so GitHub gets its answer in milliseconds.
 *
 * The webhook handler verifies the signature, parses and validates the body once and calls these
 * directly; Probot is left out of the hot path because it builds an installation-authenticated
 * Octokit for every event, which these handlers never use (docs/benchmarks.md).
 */
export function createWorkflowJobHandlers(deps: WorkflowJobHandlerDeps): WorkflowJobHandlers {
  return {
    queued: (deliveryId, event) => onQueued(deps, deliveryId, event),
    in_progress: (deliveryId, event) => onInProgress(deps, deliveryId, event),
    completed: (deliveryId, event) => onCompleted(deps, deliveryId, event),
  };
}

function jobRef(event: WorkflowJobEvent): RerunJobRef {
  return {
    owner: event.repository.owner.login,
    repo: event.repository.name,
    runId: event.workflow_job.run_id,
    name: event.workflow_job.name,
  };
}

function repositoryOf(event: WorkflowJobEvent): string {
  return `${event.repository.owner.login}/${event.repository.name}`;
}

/**
 * The fields every line about a job carries; the pool is the runner's when a runner is named.
 * Fields, not a child logger: building one per webhook is too dear at a burst's rate
 * (docs/benchmarks.md).
 */
function jobFields(deliveryId: string, job: WorkflowJobEvent["workflow_job"], pool: string | undefined) {
  return { deliveryId, jobId: job.id, pool, runnerName: job.runner_name ?? undefined };
}

/** The OOM re-run this job is, if it is one (only re-run attempts cost a Redis read). */
async function oomRerunOf(
  deps: Pick<WorkflowJobHandlerDeps, "oomReruns">,
  event: WorkflowJobEvent,
): Promise<OomRerunClaim | undefined> {
  if (!(event.workflow_job.run_attempt > 1)) return undefined;
  return deps.oomReruns.claimOf(jobRef(event));
}

/**
 * The job no longer waits for a runner: taken by one, or finished without one. Returns its pool
 * (undefined: no pool serves it) and the demand it stood for if it was still waiting.
 */
async function settle(
  deps: Pick<WorkflowJobHandlerDeps, "oomReruns" | "pools" | "ledger" | "unmatched">,
  event: WorkflowJobEvent,
): Promise<{ pool: string; demand: ProvisionRequest | undefined } | undefined> {
  const job = event.workflow_job;
  const match = routePool(job.labels, deps.pools.declared(), (await oomRerunOf(deps, event))?.toPool);
  if (match.kind !== "matched") {
    // A job for GitHub-hosted runners was never kept; any other no longer waits.
    if (match.reason !== "not-self-hosted") await deps.unmatched.forget(job.id);
    return undefined;
  }
  // Where it waits: its pool, or the pool it overflowed to.
  return deps.ledger.settledWhere(match.pool.name, job.id);
}

/**
 * The record of the runner a webhook names, if it is ours and belongs to the webhook's
 * installation: another installation's webhook never touches it (counted and logged).
 */
async function runnerOf(
  deps: Pick<WorkflowJobHandlerDeps, "runners" | "metrics" | "log">,
  deliveryId: string,
  event: WorkflowJobEvent,
  action: "in_progress" | "completed",
): Promise<RunnerRecord | undefined> {
  const name = event.workflow_job.runner_name;
  if (!name) return undefined;
  const record = await deps.runners.get(name);
  if (!record) {
    deps.metrics.webhooks.inc({ action, outcome: "not-ours" });
    return undefined;
  }
  if (record.installationId !== event.installation?.id) {
    deps.metrics.webhooks.inc({ action, outcome: "other-installation" });
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

async function onQueued(deps: WorkflowJobHandlerDeps, deliveryId: string, event: WorkflowJobEvent): Promise<void> {
  const { metrics } = deps;
  // No child logger per webhook, for the reason given at jobFields.
  const fields = { deliveryId, jobId: event.workflow_job.id };
  const rerun = await oomRerunOf(deps, event);
  const demand = demandFor(event, deps.pools.declared(), deps.now(), rerun?.toPool, rerun?.toSize);
  if (demand.kind === "ignore") {
    metrics.jobsIgnored.inc({ reason: demand.reason });
    metrics.webhooks.inc({ action: "queued", outcome: "ignored" });
    const nearest = await recordUnmatched(deps, event, demand.reason);
    deps.log.info(
      { ...fields, reason: demand.reason, labels: event.workflow_job.labels, ...nearest },
      "job ignored: no pool serves it",
    );
    return;
  }
  const request: ProvisionRequest = { ...demand.request, deliveryId };
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
    const warmed = await warmUpOnArrival(deps, request);
    if (warmed > 0) deps.log.info({ ...fields, pool, warmed }, "adaptive pool: warm runners asked for on arrival");
  }
  // Debug: a line per webhook is too dear at a burst's rate (docs/benchmarks.md); the worker
  // logs each runner it starts at info.
  deps.log.debug(
    { ...fields, pool, queueJobId: job.id, labels: request.labels, redelivered: !fresh },
    "runner demand enqueued",
  );
}

async function onInProgress(deps: WorkflowJobHandlerDeps, deliveryId: string, event: WorkflowJobEvent): Promise<void> {
  const { metrics } = deps;
  const { workflow_job: job } = event;
  const settled = await settle(deps, event);
  if (settled?.demand) {
    metrics.jobsStarted.inc({ pool: settled.pool });
    const since = settled.demand.enqueuedAt ?? settled.demand.queuedAt;
    const at = deps.now();
    const seconds = secondsBetween(since, at);
    metrics.jobStartSeconds.observe({ pool: settled.pool }, seconds);
    await deps.history.recordPickup(settled.pool, job.id, at, seconds);
  }
  const ours = await runnerOf(deps, deliveryId, event, "in_progress");
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
  // Once per runner (a redelivered webhook, or a busy state the reconciler saw first, changes nothing).
  if (await endIdleTime(record, deps.now(), deps)) {
    const replacements = await replaceTakenWarmRunner(deps, record);
    if (replacements > 0) {
      deps.log.info(
        { ...jobFields(deliveryId, job, record.pool), replacements },
        "warm runner taken; replacement asked for",
      );
    }
  }
  if (await deps.crashLoops.clear(record.pool)) {
    deps.log.info(jobFields(deliveryId, job, record.pool), "a runner of the pool took a job; its crash loop is over");
  }
  await deps.feed.record({
    kind: "took-job",
    pool: record.pool,
    runnerName: record.name,
    engine: record.engine,
    jobId: job.id,
    repository,
  });
  deps.log.info(jobFields(deliveryId, job, record.pool), "runner busy");
}

async function onCompleted(deps: WorkflowJobHandlerDeps, deliveryId: string, event: WorkflowJobEvent): Promise<void> {
  const { metrics } = deps;
  const { workflow_job: job } = event;
  const settled = await settle(deps, event);
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
      { ...jobFields(deliveryId, job, settled?.pool), conclusion: job.conclusion },
      "job ended without a runner",
    );
    return;
  }
  const ours = await runnerOf(deps, deliveryId, event, "completed");
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
      ...jobFields(deliveryId, job, record.pool),
      conclusion: job.conclusion,
      graceMs: deps.stopGraceMs,
    },
    "job completed; stop scheduled",
  );
}
