import { z } from "zod";
import type { Pool } from "../config/pools.js";
import type { RunnerScope } from "../scope/runner-scope.js";
import { routePool, type UnmatchedReason } from "../pools/match.js";
import type { ProvisionRequest } from "../queue/jobs.js";

const githubId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const login = z.string().min(1).max(100);

/**
 * The parts of a workflow_job webhook runnerhub reads, as GitHub sends them; anything else in the
 * payload is left alone. A signed payload that does not fit is answered 400 and changes nothing.
 */
export const workflowJobEventSchema = z.object({
  /** Any value reads: only queued, in_progress and completed are acted on, the rest are answered 200. */
  action: z.unknown().optional(),
  workflow_job: z.object({
    id: githubId,
    run_id: githubId,
    /** 1, then one more each time the run (or this job) is re-run; a re-run job gets a new id. */
    run_attempt: z.number().int().positive(),
    /** The job's name in its run, kept by a re-run. */
    name: z.string(),
    labels: z.array(z.string().max(1000)).max(100),
    created_at: z.string(),
    conclusion: z.string().nullable().optional(),
    runner_name: z.string().max(1000).nullable().optional(),
  }),
  repository: z.object({ name: login, owner: z.object({ login }) }),
  organization: z.object({ login }).nullable().optional(),
  installation: z.object({ id: githubId }).nullable().optional(),
});

export type WorkflowJobEvent = z.infer<typeof workflowJobEventSchema>;

/** A payload as runnerhub reads it, or its first field that does not read, as `path: problem`. */
export type WorkflowJobRead = { ok: true; event: WorkflowJobEvent } | { ok: false; problem: string };

export function readWorkflowJob(payload: unknown): WorkflowJobRead {
  const parsed = workflowJobEventSchema.safeParse(payload);
  if (parsed.success) return { ok: true, event: parsed.data };
  const issue = parsed.error.issues[0];
  const path = issue?.path.map(String).join(".") || "(payload)";
  return { ok: false, problem: `${path}: ${issue?.message ?? "invalid"}` };
}

export function scopeOf(event: WorkflowJobEvent): RunnerScope {
  return event.organization ? { kind: "org", org: event.organization.login } : repositoryScope(event);
}

function repositoryScope(event: WorkflowJobEvent): RunnerScope {
  return { kind: "repo", owner: event.repository.owner.login, repo: event.repository.name };
}

export type Demand =
  { kind: "provision"; request: ProvisionRequest } | { kind: "ignore"; reason: "no-installation" | UnmatchedReason };

/**
 * What a queued workflow_job, arriving at `now`, asks of runnerhub; `routedPool` and `routedSize`:
 * where runnerhub chose to send it (an OOM re-run goes to a bigger pool or size).
 */
export function demandFor(
  event: WorkflowJobEvent,
  pools: readonly Pool[],
  now: number,
  routedPool?: string,
  routedSize?: string,
): Demand {
  if (!event.installation) return { kind: "ignore", reason: "no-installation" };
  const match = routePool(event.workflow_job.labels, pools, routedPool, routedSize);
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
      // A fair-share pool's runner registers at the job's repository: GitHub gives it no other repository's job.
      scope: match.pool.perRepository ? repositoryScope(event) : scopeOf(event),
      labels: event.workflow_job.labels,
      pool: match.pool.name,
      ...(match.size === undefined ? {} : { size: match.size }),
      queuedAt: Number.isFinite(queuedAt) ? Math.min(queuedAt, now) : now,
      enqueuedAt: now,
    },
  };
}
