import type { Pool } from "../config/pools.js";
import type { RunnerScope } from "../github/runners-api.js";
import { routePool } from "../pools/match.js";
import type { ProvisionRequest } from "../queue/jobs.js";

/** The parts of a workflow_job webhook runnerhub reads. */
export interface WorkflowJobEvent {
  workflow_job: {
    id: number;
    run_id: number;
    /** 1, then one more each time the run (or this job) is re-run; a re-run job gets a new id. */
    run_attempt: number;
    /** The job's name in its run, kept by a re-run. */
    name: string;
    labels: string[];
    created_at: string;
    conclusion?: string | null;
    runner_name: string | null;
  };
  repository: { name: string; owner: { login: string } };
  organization?: { login: string } | null;
  installation?: { id: number } | null;
}

export function scopeOf(event: WorkflowJobEvent): RunnerScope {
  return event.organization
    ? { kind: "org", org: event.organization.login }
    : { kind: "repo", owner: event.repository.owner.login, repo: event.repository.name };
}

export type Demand =
  | { kind: "provision"; request: ProvisionRequest }
  | { kind: "ignore"; reason: "no-installation" | "not-self-hosted" | "no-matching-pool" };

/** What a queued workflow_job, arriving at `now`, asks of runnerhub; `routedPool`: the pool runnerhub chose for it (an OOM re-run). */
export function demandFor(event: WorkflowJobEvent, pools: readonly Pool[], now: number, routedPool?: string): Demand {
  if (!event.installation) return { kind: "ignore", reason: "no-installation" };
  const match = routePool(event.workflow_job.labels, pools, routedPool);
  if (match.kind === "ignored") return { kind: "ignore", reason: match.reason };
  const queuedAt = Date.parse(event.workflow_job.created_at);
  return {
    kind: "provision",
    request: {
      githubJobId: event.workflow_job.id,
      runId: event.workflow_job.run_id,
      owner: event.repository.owner.login,
      repo: event.repository.name,
      installationId: event.installation.id,
      scope: scopeOf(event),
      labels: event.workflow_job.labels,
      pool: match.pool.name,
      queuedAt: Number.isFinite(queuedAt) ? Math.min(queuedAt, now) : now,
      enqueuedAt: now,
    },
  };
}
