import { UnrecoverableError, Worker, type ConnectionOptions, type Queue } from "bullmq";
import type { Logger } from "pino";
import type { Pool } from "../config/pools.js";
import type { RunnersApi } from "../github/runners-api.js";
import type { Metrics } from "../observability/metrics.js";
import { OOM_RERUN_QUEUE, oomRerunJobId, type OomRerunRequest } from "../queue/jobs.js";
import { rerunRetryDelayMs } from "../tunables.js";
import type { OomRerunClaim, OomRerunStore } from "./oom-rerun-store.js";
import type { BusyJob, RunnerRecord } from "../state/runner-store.js";
import { httpStatusOf } from "../http/error-status.js";
import { carriesLabels, fitOf } from "../pools/match.js";
import { sizeOf } from "../pools/sizes.js";
import type { ExitReason } from "../docker/exit-reason.js";

export type OomRerunDecision = { kind: "rerun"; pool: Pool; size?: string } | { kind: "skip"; reason: string };

/**
 * Whether the job a runner was OOM-killed in is re-run on the pool's oomRetryPool (or, with
 * oomRetrySize, on that size of oomRetryPool or of the pool itself): only a job the runner was busy
 * on and GitHub had not seen complete, and only where the runners carry every label of the job
 * (GitHub gives a job only to a runner that has all its labels). Undefined when the runner was not
 * OOM-killed.
 */
export function oomRerunDecision(
  record: RunnerRecord | undefined,
  observed: ExitReason,
  pools: readonly Pool[],
): OomRerunDecision | undefined {
  if (observed !== "oom-killed") return undefined;
  if (!record || record.state !== "busy" || !record.busyJob || record.busyJobId === undefined) {
    return { kind: "skip", reason: "the runner had not taken a job" };
  }
  if (record.completedAt !== undefined) return { kind: "skip", reason: "its job had already completed" };
  const pool = pools.find((candidate) => candidate.name === record.pool);
  const targetName = pool?.oomRetryPool ?? (pool?.oomRetrySize === undefined ? undefined : pool.name);
  if (!pool || targetName === undefined) {
    return { kind: "skip", reason: `pool ${record.pool} names no oomRetryPool` };
  }
  const target = pools.find((candidate) => candidate.name === targetName);
  if (!target) return { kind: "skip", reason: `oomRetryPool ${targetName} is not configured` };
  const size = sizeOf(target, pool.oomRetrySize)?.label;
  if (pool.oomRetrySize !== undefined && size === undefined) {
    return { kind: "skip", reason: `pool ${target.name} offers no size ${pool.oomRetrySize}` };
  }
  // With a size, the re-run's runner also carries the job's own size label, if the target offers it (sizedPool).
  const { labels } = record.busyJob;
  const carried =
    size === undefined
      ? fitOf(target, labels).missing.length === 0
      : carriesLabels(target, labels, ...target.sizes.map((offered) => offered.label));
  if (!carried) {
    return {
      kind: "skip",
      reason: `pool ${target.name} lacks some of the job's labels ${record.busyJob.labels.join(", ")}`,
    };
  }
  return size === undefined ? { kind: "rerun", pool: target } : { kind: "rerun", pool: target, size };
}

export interface OomRerunDeps {
  store: OomRerunStore;
  queue: Queue<OomRerunRequest>;
  log: Logger;
  now: () => number;
}

/**
 * Queues the re-run of the runner's job on `toPool` and records that it is re-run; once per job (by
 * its run and name, which a re-run keeps). Undefined when the job was re-run before.
 *
 * The queue entry is added before the claim is written: a claim is a promise that the job is re-run,
 * and a crash between the two must not leave one with no entry to keep it (the job would then never
 * be re-run, nor re-run by anyone else). An entry without its claim is harmless: its worker writes
 * the claim before it asks GitHub (rerunOnce), so the re-run's queued webhook always finds its
 * route, and an entry whose job another OOM kill claimed first does nothing.
 */
export async function requestOomRerun(
  record: RunnerRecord,
  toPool: string,
  deps: OomRerunDeps,
  toSize?: string,
): Promise<{ pool: string; at: number } | undefined> {
  const job = record.busyJob;
  const jobId = record.busyJobId;
  if (!job || jobId === undefined) return undefined;
  const at = deps.now();
  const fields = { runnerName: record.name, jobId, runId: job.runId, job: job.name, pool: record.pool, toPool, toSize };
  const ref = { owner: job.owner, repo: job.repo, runId: job.runId, name: job.name };
  const reRunBefore = () =>
    deps.log.warn(fields, "runner OOM-killed again in a job re-run once already; not re-run again");
  // A claim of this very job id is an earlier clean-up of this runner that got this far.
  const earlier = await deps.store.claimOf(ref);
  if (earlier && earlier.jobId !== jobId) {
    reRunBefore();
    return undefined;
  }
  await deps.queue.add("rerun", rerunRequest(record, job, jobId, toPool, toSize), { jobId: oomRerunJobId(jobId) });
  const claim = {
    jobId,
    fromPool: record.pool,
    toPool,
    ...(toSize === undefined ? {} : { toSize }),
    runnerName: record.name,
    at,
  };
  if (!(await deps.store.claim(ref, claim)) && (await deps.store.claimOf(ref))?.jobId !== jobId) {
    // Claimed for another job id in between: the entry just added finds that claim and does nothing.
    reRunBefore();
    return undefined;
  }
  deps.log.warn(fields, "runner OOM-killed during a job; the job will be re-run on the bigger pool");
  return { pool: toPool, at: earlier?.at ?? at };
}

function rerunRequest(
  record: RunnerRecord,
  job: BusyJob,
  jobId: number,
  toPool: string,
  toSize: string | undefined,
): OomRerunRequest {
  return {
    installationId: record.installationId,
    owner: job.owner,
    repo: job.repo,
    jobId,
    runId: job.runId,
    jobName: job.name,
    fromPool: record.pool,
    toPool,
    ...(toSize === undefined ? {} : { toSize }),
    runnerName: record.name,
  };
}

/**
 * The claim of the request's job, written now when its requester was stopped between queueing the
 * entry and claiming; undefined when another job id (an earlier OOM kill of this job) holds it.
 */
async function ownClaim(request: OomRerunRequest, deps: RerunWorkerDeps): Promise<OomRerunClaim | undefined> {
  const ref = { owner: request.owner, repo: request.repo, runId: request.runId, name: request.jobName };
  const claim: OomRerunClaim = {
    jobId: request.jobId,
    fromPool: request.fromPool,
    toPool: request.toPool,
    ...(request.toSize === undefined ? {} : { toSize: request.toSize }),
    runnerName: request.runnerName,
    at: deps.now(),
  };
  if (await deps.store.claim(ref, claim)) {
    deps.log.warn(
      { jobId: request.jobId, runId: request.runId, job: request.jobName, toPool: request.toPool },
      "OOM re-run entry found without its claim (its requester stopped in between); claimed now",
    );
    return claim;
  }
  const held = await deps.store.claimOf(ref);
  return held?.jobId === request.jobId ? held : undefined;
}

const NOT_RERUN = new Set(["success", "cancelled", "skipped", "neutral"]);

export interface RerunWorkerDeps {
  github: RunnersApi;
  store: OomRerunStore;
  metrics: Metrics;
  log: Logger;
  now: () => number;
}

/** One attempt: re-runs the job once its run has completed (throws to be tried again until then). */
export async function rerunOnce(request: OomRerunRequest, deps: RerunWorkerDeps): Promise<"rerun" | "not-needed"> {
  const { github, log } = deps;
  const fields = { jobId: request.jobId, runId: request.runId, job: request.jobName, toPool: request.toPool };
  // Before anything else: the re-run's queued webhook must find its route (the claim).
  const claim = await ownClaim(request, deps);
  if (!claim) {
    log.warn(fields, "OOM-killed job's re-run is claimed by another OOM kill of it; not re-run again");
    return "not-needed";
  }
  const { status, conclusion } = await github.jobResult(
    request.installationId,
    request.owner,
    request.repo,
    request.jobId,
  );
  if (status !== "completed") throw new Error(`job ${request.jobId} is still ${status}; re-run once its run completed`);
  if (conclusion !== null && NOT_RERUN.has(conclusion)) {
    log.info({ ...fields, conclusion }, "OOM-killed job not re-run: GitHub shows it did not fail");
    return "not-needed";
  }
  // A re-run whose queued webhook arrived was sent by an earlier attempt (its answer lost): never twice.
  const ref = { owner: request.owner, repo: request.repo, runId: request.runId, name: request.jobName };
  const requeued = (await deps.store.claimOf(ref))?.requeuedJobId;
  if (requeued !== undefined) {
    log.info({ ...fields, requeuedJobId: requeued }, "OOM-killed job was re-run already");
    return "not-needed";
  }
  let outcome: "rerun" | "run-in-progress";
  try {
    outcome = await github.rerunJob(request.installationId, request.owner, request.repo, request.jobId);
  } catch (error) {
    if (httpStatusOf(error) !== 403) throw error;
    throw new UnrecoverableError(
      `GitHub refused to re-run job ${request.jobId} of ${request.owner}/${request.repo} (${(error as Error).message}); the app needs the Actions write permission (see app.yml)`,
    );
  }
  // Also GitHub's answer once a lost attempt's re-run is queued: the next attempt then sees it.
  if (outcome === "run-in-progress") throw new Error(`the run of job ${request.jobId} is still running; re-run later`);
  deps.metrics.oomReruns.inc({ pool: request.fromPool, retry_pool: request.toPool });
  log.info(fields, "OOM-killed job re-run; its runner comes from the bigger pool");
  return "rerun";
}

export function startOomRerunWorker(
  deps: RerunWorkerDeps,
  options: { connection: ConnectionOptions; prefix: string },
): Worker<OomRerunRequest> {
  const worker = new Worker<OomRerunRequest>(OOM_RERUN_QUEUE, (job) => rerunOnce(job.data, deps), {
    connection: options.connection,
    prefix: options.prefix,
    concurrency: 2,
    settings: { backoffStrategy: (attemptsMade: number) => rerunRetryDelayMs(attemptsMade) },
  });
  worker.on("failed", (job, error) => {
    const final =
      job === undefined || job.attemptsMade >= (job.opts.attempts ?? 1) || error instanceof UnrecoverableError;
    const fields = { err: error, queueJobId: job?.id, attempt: job?.attemptsMade };
    if (final) deps.log.error(fields, "OOM-killed job was not re-run");
    else deps.log.debug(fields, "OOM re-run waits for the run to complete");
  });
  return worker;
}
