import type { RunnerScope } from "../scope/runner-scope.js";

export const PROVISION_QUEUE = "provision";
export const RUNNER_OPS_QUEUE_PREFIX = "runner-ops";

/** Demand for one runner: from a queued workflow_job, or a warm runner the pool keeps ready. */
export interface ProvisionRequest {
  /** GitHub's id of the job; 0 for warm demand, which answers to no particular job. */
  githubJobId: number;
  runId: number;
  owner: string;
  repo: string;
  installationId: number;
  scope: RunnerScope;
  labels: string[];
  pool: string;
  /** The job size (a size label of the pool) the runner is made for; absent: the pool's own resources. */
  size?: string;
  /** When GitHub queued the job (ms since epoch). */
  queuedAt: number;
  /** When this entry was put on the queue (ms since epoch); absent in entries of older versions. */
  enqueuedAt?: number;
  /** The webhook delivery that brought the demand, for logs (absent for warm and re-provisioned demand). */
  deliveryId?: string;
  /** When the entry was first parked on a full pool or engine. */
  parkedAt?: number;
  /** How often a worker left the entry to an engine placement prefers (absent: never). */
  handoffs?: number;
  /** The pool this job was declared for, when it overflowed from there to `pool` (once at most). */
  overflowedFrom?: string;
}

export interface StopRunnerRequest {
  runnerName: string;
  /** Recorded on the runner as the reason it went away. */
  reason: string;
}

/** BullMQ job ids cannot be integers or contain ":"; this one is stable per GitHub job. */
export function provisionJobId(githubJobId: number): string {
  return `job-${githubJobId}`;
}

/** The pool's warm slot `slot` (from 1): fixed, so whoever asks for a slot already on its way asks for nothing. */
export function warmJobId(pool: string, slot: number): string {
  return `warm-${pool}-${slot}`;
}

export const MAINTENANCE_QUEUE = "maintenance";
/** The periodic sample of every pool for the dashboard's charts (its own queue: a worker runs every job of its queue). */
export const POOL_HISTORY_QUEUE = "pool-history";
export const OOM_RERUN_QUEUE = "oom-rerun";

/** Re-run, on a bigger pool, a job whose runner was OOM-killed. */
export interface OomRerunRequest {
  installationId: number;
  owner: string;
  repo: string;
  jobId: number;
  runId: number;
  jobName: string;
  /** The pool whose runner was OOM-killed, and the pool the re-run goes to. */
  fromPool: string;
  toPool: string;
  /** The size of toPool the re-run gets; absent: the pool's own resources. */
  toSize?: string;
  runnerName: string;
}

export function oomRerunJobId(jobId: number): string {
  return `oom-rerun-${jobId}`;
}

function engineSuffix(engine: string): string {
  return engine.replace(/[^A-Za-z0-9_.-]/g, "_");
}

/** A further attempt for a job whose first entry is finished (the reconciler's re-provisioning). */
export function reprovisionJobId(githubJobId: number, at: number): string {
  return `job-${githubJobId}-again-${at}`;
}

/** Engine-bound work (stopping a container) goes to the queue of the engine that runs it. */
export function runnerOpsQueueName(engine: string): string {
  return `${RUNNER_OPS_QUEUE_PREFIX}-${engineSuffix(engine)}`;
}

/** Each engine's reconcile passes, one at a time, by a process bound to that engine. */
export function reconcileQueueName(engine: string): string {
  return `reconcile-${engineSuffix(engine)}`;
}

/** Each engine's image passes (pre-pull, refresh of `always` images, clean-up), one at a time. */
export function imagesQueueName(engine: string): string {
  return `images-${engineSuffix(engine)}`;
}
