import { randomUUID } from "node:crypto";
import type { EmitterWebhookEvent, Webhooks } from "@octokit/webhooks";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { intakeWebhooks } from "../../../src/intake/app.js";
import { createMetrics, type Metrics } from "../../../src/observability/metrics.js";
import { provisionJobId } from "../../../src/queue/jobs.js";
import { type WorkflowJobExample, workflowJobExamples } from "../../sim/github-simulator.js";
import { type ServiceContext, runnerRecord, serviceContext, testPool } from "../support/context.js";

const NOW = Date.parse("2026-01-01T12:00:00Z");
const STOP_GRACE_MS = 45_000;
const POOL = testPool({ name: "k8s", labels: ["self-hosted", "k8s"] });
const RUNNER = "rh-k8s-abc123";

let ctx: ServiceContext;
let metrics: Metrics;
let webhooks: Webhooks;

beforeAll(async () => {
  ctx = await serviceContext();
});

beforeEach(async () => {
  metrics = createMetrics();
  webhooks = intakeWebhooks({
    secret: "s",
    suspectMiss: () => Promise.resolve(),
    currentPools: () => [POOL],
    provisionQueue: ctx.queues.provision,
    runnerOpsQueue: (engine) => ctx.queues.runnerOps(engine),
    runners: ctx.runners,
    ledger: ctx.ledger,
    stopGraceMs: STOP_GRACE_MS,
    feed: ctx.feed,
    metrics,
    log: ctx.log,
    now: () => NOW,
  });
});

afterEach(async () => {
  await ctx.flushPrefix();
});

afterAll(async () => {
  await ctx.close();
});

/** A real example of `action` (one sent to an App if there is one), re-pointed at one job, its labels and runner. */
function event(
  action: "queued" | "in_progress" | "completed",
  job: { id: number; labels: string[]; runner_name: string | null },
): WorkflowJobExample {
  const candidates = workflowJobExamples().filter((e) => e.action === action);
  const example = candidates.find((e) => "installation" in e && e.installation) ?? candidates[0];
  if (!example) throw new Error(`@octokit/webhooks-examples has no workflow_job.${action} example`);
  const copy = structuredClone(example);
  Object.assign(copy.workflow_job, job);
  return copy;
}

async function receive(payload: WorkflowJobExample, id = randomUUID()): Promise<void> {
  await webhooks.receive({
    id,
    name: "workflow_job",
    payload: payload as unknown as EmitterWebhookEvent<"workflow_job">["payload"],
  });
}

async function count(
  counter: Metrics["webhooks"] | Metrics["jobsIgnored"] | Metrics["jobsQueued"],
  labels: Record<string, string>,
) {
  const { values } = await counter.get();
  const matches = (v: { labels: Record<string, unknown> }) =>
    Object.entries(labels).every(([name, value]) => v.labels[name] === value);
  return values.find(matches)?.value ?? 0;
}

const matching = { id: 4101, labels: ["self-hosted", "k8s"], runner_name: null };

describe("workflow_job.queued", () => {
  it("turns a job a pool serves into exactly one provision entry, and a redelivery adds nothing", async () => {
    const queued = event("queued", matching);
    const deliveryId = randomUUID();
    await receive(queued, deliveryId);
    await receive(queued, deliveryId);

    const jobs = await ctx.queues.provision.getJobs(["waiting", "delayed", "prioritized", "active"]);
    expect(jobs.map((j) => j.id)).toEqual([provisionJobId(matching.id)]);
    expect(jobs[0]?.data).toEqual({
      githubJobId: matching.id,
      runId: queued.workflow_job.run_id,
      owner: queued.repository.owner.login,
      repo: queued.repository.name,
      installationId: queued.installation?.id,
      scope: { kind: "repo", owner: queued.repository.owner.login, repo: queued.repository.name },
      labels: matching.labels,
      pool: POOL.name,
      queuedAt: Date.parse(queued.workflow_job.created_at),
      enqueuedAt: NOW,
      deliveryId,
    });
    expect(await ctx.ledger.waitingCount(POOL.name)).toBe(1);
    expect(await count(metrics.webhooks, { action: "queued", outcome: "enqueued" })).toBe(2);
    // The redelivery is neither a second job nor a second delivery delay, nor a second line on the timeline.
    expect(await count(metrics.jobsQueued, { pool: POOL.name })).toBe(1);
    expect((await ctx.feed.recent(10)).map((entry) => [entry.kind, entry.jobId])).toEqual([["queued", matching.id]]);
    const delay = (await metrics.webhookDelaySeconds.get()).values.find((v) => v.metricName?.endsWith("_count"));
    expect(delay?.value).toBe(1);
  });

  it("adds nothing for a job no pool serves and counts it as ignored", async () => {
    await receive(event("queued", { id: 4102, labels: ["ubuntu-latest"], runner_name: null }));
    await receive(event("queued", { id: 4103, labels: ["self-hosted", "gpu"], runner_name: null }));

    expect(await ctx.queues.provision.count()).toBe(0);
    expect(await ctx.ledger.waitingCount(POOL.name)).toBe(0);
    expect(await count(metrics.jobsIgnored, { reason: "not-self-hosted" })).toBe(1);
    expect(await count(metrics.jobsIgnored, { reason: "no-matching-pool" })).toBe(1);
    expect(await count(metrics.webhooks, { action: "queued", outcome: "ignored" })).toBe(2);
  });
});

describe("workflow_job.in_progress", () => {
  it("marks our runner busy with the job and settles the job's demand", async () => {
    await ctx.runners.put(runnerRecord(RUNNER, { pool: POOL.name, state: "idle" }));
    await receive(event("queued", matching));
    expect(await ctx.ledger.waitingCount(POOL.name)).toBe(1);

    await receive(event("in_progress", { ...matching, runner_name: RUNNER }));

    const taken = event("in_progress", matching);
    const repository = `${taken.repository.owner.login}/${taken.repository.name}`;
    expect(await ctx.runners.get(RUNNER)).toMatchObject({ state: "busy", busyJobId: matching.id, repository });
    expect(await ctx.ledger.waitingCount(POOL.name)).toBe(0);
    expect(await count(metrics.webhooks, { action: "in_progress", outcome: "ours" })).toBe(1);
    // The dashboard's timeline, newest first.
    expect(await ctx.feed.recent(10)).toMatchObject([
      { kind: "took-job", pool: POOL.name, runnerName: RUNNER, jobId: matching.id, repository },
      { kind: "queued", pool: POOL.name, jobId: matching.id, repository },
    ]);
  });

  it("settles demand but touches no record when another runner took the job", async () => {
    await ctx.runners.put(runnerRecord(RUNNER, { pool: POOL.name, state: "idle" }));
    await receive(event("queued", matching));

    await receive(event("in_progress", { ...matching, runner_name: "someone-elses-runner" }));

    const untouched = await ctx.runners.get(RUNNER);
    expect(untouched?.state).toBe("idle");
    expect(untouched?.busyJobId).toBeUndefined();
    expect(await ctx.runners.get("someone-elses-runner")).toBeUndefined();
    expect(await ctx.ledger.waitingCount(POOL.name)).toBe(0);
    expect(await count(metrics.webhooks, { action: "in_progress", outcome: "not-ours" })).toBe(1);
  });
});

describe("workflow_job.completed", () => {
  it("records the completion and schedules one delayed stop of our runner on its engine", async () => {
    await ctx.runners.put(runnerRecord(RUNNER, { pool: POOL.name, state: "busy", busyJobId: matching.id }));
    const completed = event("completed", { ...matching, runner_name: RUNNER });
    await receive(completed);
    await receive(completed);

    expect(await ctx.runners.get(RUNNER)).toMatchObject({ completedAt: NOW });
    const stops = await ctx.queues.runnerOps("test-engine").getJobs(["delayed", "waiting"]);
    expect(stops).toHaveLength(1);
    expect(stops[0]).toMatchObject({
      id: `stop-${RUNNER}`,
      data: { runnerName: RUNNER, reason: "job-completed" },
      opts: { delay: STOP_GRACE_MS },
    });
  });

  it("schedules no stop for a job that ended without a runner or on a runner not ours", async () => {
    await receive(event("queued", matching));
    await receive(event("completed", matching));
    await receive(event("completed", { ...matching, id: 4104, runner_name: "someone-elses-runner" }));

    expect(await ctx.ledger.waitingCount(POOL.name)).toBe(0);
    expect(await ctx.queues.runnerOps("test-engine").count()).toBe(0);
    expect(await count(metrics.webhooks, { action: "completed", outcome: "no-runner" })).toBe(1);
    expect(await count(metrics.webhooks, { action: "completed", outcome: "not-ours" })).toBe(1);
    // A job of the pool that ended without a runner is on the timeline; a job another runner ran is not.
    expect((await ctx.feed.recent(10)).map((entry) => [entry.kind, entry.jobId, entry.runnerName])).toEqual([
      ["completed", matching.id, undefined],
      ["queued", matching.id, undefined],
    ]);
  });
});
