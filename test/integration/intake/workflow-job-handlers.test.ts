import { UnmatchedJobStore } from "../../../src/pools/unmatched-store.js";
import { PoolHistoryStore } from "../../../src/history/pool-history-store.js";
import { warmTarget } from "../../../src/pools/warm.js";
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { RedisKeys } from "../../../src/state/keys.js";
import type { RunnerRecord } from "../../../src/state/runner-store.js";
import { readWorkflowJob } from "../../../src/intake/demand.js";
import {
  createWorkflowJobHandlers,
  isHandledAction,
  type WorkflowJobHandlers,
} from "../../../src/intake/workflow-job-handlers.js";
import { createMetrics, type Metrics } from "../../../src/observability/metrics.js";
import { requestWarmRunners } from "../../../src/pools/warm.js";
import { provisionJobId, warmJobId } from "../../../src/queue/jobs.js";
import { type WorkflowJobExample, workflowJobExamples } from "../../sim/github-simulator.js";
import { type ServiceContext, runnerRecord, serviceContext, testPool } from "../support/context.js";

const NOW = Date.parse("2026-01-01T12:00:00Z");
const STOP_GRACE_MS = 45_000;
const POOL = testPool({ name: "k8s", labels: ["self-hosted", "k8s"], oomRetryPool: "k8s-big" });
const BIG = testPool({ name: "k8s-big", labels: ["self-hosted", "k8s", "big"] });
/** Keeps one warm runner, registered with the organization acme (runnerRecord's scope). */
const WARM = testPool({ name: "warm", labels: ["self-hosted", "warm"], minIdle: 1, warmScope: "acme", maxRunners: 3 });
/** Keeps what its forecast says (two, in these tests), registered with the examples' owner. */
const ADAPTIVE = testPool({
  name: "adaptive",
  labels: ["self-hosted", "adaptive"],
  warm: "adaptive",
  maxIdle: 4,
  warmScope: "Octocoders",
  maxRunners: 5,
});
const RUNNER = "rh-k8s-abc123";

let ctx: ServiceContext;
let metrics: Metrics;
let handlers: WorkflowJobHandlers;

beforeAll(async () => {
  ctx = await serviceContext();
});

beforeEach(async () => {
  metrics = createMetrics();
  handlers = createWorkflowJobHandlers({
    pools: ctx.poolsOf(() => [POOL, BIG, WARM, ADAPTIVE]),
    provisionQueue: ctx.queues.provision,
    runnerOpsQueue: (engine) => ctx.queues.runnerOps(engine),
    runners: ctx.runners,
    ledger: ctx.ledger,
    slots: ctx.slots,
    warmTargetOf: (pool) => Promise.resolve(pool.warm === "adaptive" ? 2 : warmTarget(pool)),
    history: new PoolHistoryStore(ctx.store),
    oomReruns: ctx.oomReruns.store,
    crashLoops: ctx.crashLoops,
    unmatched: new UnmatchedJobStore(ctx.store),
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

/** The installation every event below comes from: our runners there are the ones its webhooks may touch. */
const INSTALLATION = 4242;

/** A real example of `action`, re-pointed at one job, its labels and runner, sent to our installation. */
function event(
  action: "queued" | "in_progress" | "completed",
  job: {
    id: number;
    labels: string[];
    runner_name: string | null;
    run_id?: number;
    run_attempt?: number;
    name?: string;
  },
): WorkflowJobExample {
  const candidates = workflowJobExamples().filter((e) => e.action === action);
  const example = candidates.find((e) => "installation" in e && e.installation) ?? candidates[0];
  if (!example) throw new Error(`@octokit/webhooks-examples has no workflow_job.${action} example`);
  const copy = structuredClone(example);
  Object.assign(copy.workflow_job, job);
  return Object.assign(copy, {
    installation: { id: INSTALLATION, node_id: "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI0Mg==" },
  });
}

/** What the webhook handler does with a valid workflow_job: reads it, then calls its action's handler. */
async function receive(payload: WorkflowJobExample, id = randomUUID()): Promise<void> {
  const read = readWorkflowJob(payload);
  if (!read.ok) throw new Error(`example does not read: ${read.problem}`);
  if (!isHandledAction(read.event.action)) throw new Error(`no handler for workflow_job.${String(read.event.action)}`);
  await handlers[read.event.action](id, read.event);
}

async function count(
  counter: Metrics["webhooks"] | Metrics["jobsIgnored"] | Metrics["jobsQueued"] | Metrics["jobsStarted"],
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

  it("ignores a queued processed after the job's in_progress or completed (out of order)", async () => {
    await receive(event("completed", matching));
    await receive(event("queued", matching));
    await receive(event("in_progress", { ...matching, id: 4105, runner_name: "someone-elses-runner" }));
    await receive(event("queued", { ...matching, id: 4105 }));

    expect(await ctx.queues.provision.count()).toBe(0);
    expect(await ctx.ledger.waitingCount(POOL.name)).toBe(0);
    expect(await count(metrics.webhooks, { action: "queued", outcome: "settled" })).toBe(2);
    expect(await ctx.redis.ttl(new RedisKeys(ctx.prefix).settledJob(matching.id))).toBeGreaterThan(23 * 3600);
  });

  it("keeps a job that overflowed in the pool it moved to: a redelivered queued adds nothing, in_progress settles it there", async () => {
    const queued = event("queued", matching);
    await receive(queued);
    // The example's job is years old: read the ledger as of its day, not NOW (older demand is dropped).
    const then = Date.parse(queued.workflow_job.created_at);
    const [waiting] = await ctx.ledger.waiting(POOL.name, then);
    if (!waiting) throw new Error("the job is not waiting");
    expect(await ctx.ledger.overflow(waiting, { ...waiting, pool: BIG.name, overflowedFrom: POOL.name })).toBe(true);
    // Moved once: a second move (another process) finds nothing to move.
    expect(await ctx.ledger.overflow(waiting, { ...waiting, pool: BIG.name, overflowedFrom: POOL.name })).toBe(false);

    await receive(queued);
    expect(await ctx.ledger.waitingCount(POOL.name)).toBe(0);
    expect((await ctx.ledger.waiting(BIG.name, then)).map((r) => [r.githubJobId, r.overflowedFrom])).toEqual([
      [matching.id, POOL.name],
    ]);
    expect(await ctx.queues.provision.count()).toBe(1);

    await receive(event("in_progress", { ...matching, runner_name: "someone-elses-runner" }));
    expect(await ctx.ledger.waitingCount(BIG.name)).toBe(0);
    expect(await count(metrics.jobsStarted, { pool: BIG.name })).toBe(1);
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

describe("a job re-run after an OOM kill", () => {
  it("goes to the pool runnerhub chose for it, is settled there, and marks the re-run as arrived", async () => {
    const first = event("queued", matching);
    const ref = { owner: first.repository.owner.login, repo: first.repository.name, runId: 7001, name: "build (x64)" };
    const claim = { jobId: matching.id, fromPool: POOL.name, toPool: BIG.name, runnerName: RUNNER, at: NOW };
    expect(await ctx.oomReruns.store.claim(ref, claim)).toBe(true);
    const rerun = { ...matching, id: 4201, run_id: ref.runId, name: ref.name, run_attempt: 2 };

    await receive(event("queued", rerun));

    const entry = await ctx.queues.provision.getJob(provisionJobId(rerun.id));
    expect(entry?.data.pool).toBe(BIG.name);
    expect(await ctx.ledger.waitingCount(BIG.name)).toBe(1);
    expect(await ctx.oomReruns.store.claimOf(ref)).toEqual({ ...claim, requeuedJobId: rerun.id });
    expect(await ctx.oomReruns.store.claim(ref, claim)).toBe(false);

    await receive(event("in_progress", { ...rerun, runner_name: "k8s-big-runner" }));
    expect(await ctx.ledger.waitingCount(BIG.name)).toBe(0);
  });

  it("leaves first attempts, and re-runs nobody routed, to label matching", async () => {
    const example = event("queued", matching);
    const ref = { owner: example.repository.owner.login, repo: example.repository.name, runId: 7002, name: "test" };
    await ctx.oomReruns.store.claim(ref, {
      jobId: 1,
      fromPool: POOL.name,
      toPool: BIG.name,
      runnerName: RUNNER,
      at: 1,
    });
    // A first attempt with the routed run and name (a re-run keeps both) still goes by its labels.
    await receive(event("queued", { ...matching, id: 4301, run_id: 7002, name: "test", run_attempt: 1 }));
    await receive(event("queued", { ...matching, id: 4302, run_id: 7003, name: "test", run_attempt: 2 }));
    const pools = await Promise.all(
      [4301, 4302].map(async (id) => (await ctx.queues.provision.getJob(provisionJobId(id)))?.data.pool),
    );
    expect(pools).toEqual([POOL.name, POOL.name]);
  });
});

describe("workflow_job.in_progress", () => {
  it("marks our runner busy with the job and settles the job's demand", async () => {
    await ctx.runners.put(runnerRecord(RUNNER, { pool: POOL.name, state: "idle", installationId: INSTALLATION }));
    await receive(event("queued", matching));
    expect(await ctx.ledger.waitingCount(POOL.name)).toBe(1);

    const started = event("in_progress", { ...matching, runner_name: RUNNER });
    await receive(started);

    const repository = `${started.repository.owner.login}/${started.repository.name}`;
    expect(await ctx.runners.get(RUNNER)).toMatchObject({
      state: "busy",
      busyJobId: matching.id,
      repository,
      busyJob: {
        runId: started.workflow_job.run_id,
        name: started.workflow_job.name,
        owner: started.repository.owner.login,
        repo: started.repository.name,
        labels: matching.labels,
      },
    });
    expect(await ctx.ledger.waitingCount(POOL.name)).toBe(0);
    expect(await count(metrics.webhooks, { action: "in_progress", outcome: "ours" })).toBe(1);
    // The dashboard's timeline, newest first.
    expect(await ctx.feed.recent(10)).toMatchObject([
      { kind: "took-job", pool: POOL.name, runnerName: RUNNER, jobId: matching.id, repository },
      { kind: "queued", pool: POOL.name, jobId: matching.id, repository },
    ]);
  });

  it("keeps the job's pickup for the dashboard's percentiles, once however often in_progress comes", async () => {
    await receive(event("queued", matching));
    const started = event("in_progress", { ...matching, runner_name: "someone-elses-runner" });
    await receive(started);
    await receive(started);

    const pickups = await new PoolHistoryStore(ctx.store).pickups(POOL.name, 0);
    expect(pickups).toHaveLength(1);
    expect(pickups[0]?.at).toBe(NOW);
    const { values } = await metrics.jobStartSeconds.get();
    const sum = values.find((value) => value.metricName === "runnerhub_job_start_seconds_sum");
    expect(pickups[0]?.seconds).toBe(sum?.value);
  });

  it("settles demand but touches no record when another runner took the job", async () => {
    await ctx.runners.put(runnerRecord(RUNNER, { pool: POOL.name, state: "idle", installationId: INSTALLATION }));
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

describe("a warm runner taking a job", () => {
  const warmJob = { id: 4201, labels: ["self-hosted", "warm"], runner_name: null };
  const WARM_RUNNER = "rh-warm-w1";
  const warmRunner = (name: string, fields: Partial<RunnerRecord> = {}) =>
    runnerRecord(name, {
      pool: WARM.name,
      githubJobId: 0,
      state: "idle",
      installationId: INSTALLATION,
      startedAt: NOW - 30_000,
      ...fields,
    });
  const warmEntries = async () =>
    (await ctx.queues.provision.getJobs(["waiting", "delayed", "active"])).filter((entry) =>
      entry.id?.startsWith(`warm-${WARM.name}-`),
    );
  const idleSeconds = async (pool: string) =>
    (await metrics.idleRunnerSeconds.get()).values.find((value) => value.labels.pool === pool)?.value ?? 0;

  it("asks at once for the warm runner the pool now lacks, once, as the reconciler would", async () => {
    await ctx.runners.put(warmRunner(WARM_RUNNER));
    await receive(event("queued", warmJob));
    const started = event("in_progress", { ...warmJob, runner_name: WARM_RUNNER });
    await receive(started);

    const [entry, ...more] = await warmEntries();
    expect(more).toEqual([]);
    expect(entry).toMatchObject({
      id: warmJobId(WARM.name, 1),
      data: {
        githubJobId: 0,
        pool: WARM.name,
        labels: WARM.labels,
        owner: "acme",
        repo: "",
        installationId: INSTALLATION,
        scope: { kind: "org", org: "acme" },
        queuedAt: NOW,
      },
    });
    // A redelivered webhook, and the reconciler's own warm entry for the same shortfall, add nothing.
    await receive(started);
    await requestWarmRunners(
      ctx.queues.provision,
      WARM,
      { installationId: INSTALLATION, scope: { kind: "org", org: "acme" } },
      1,
      NOW,
    );
    expect(await warmEntries()).toHaveLength(1);
  });

  it("asks for nothing while a spare runner remains, for a runner made for a job, or in a pool without warm runners", async () => {
    await ctx.runners.put(warmRunner(WARM_RUNNER));
    await ctx.runners.put(warmRunner("rh-warm-spare"));
    await receive(event("in_progress", { ...warmJob, runner_name: WARM_RUNNER }));
    expect(await warmEntries()).toEqual([]);

    await ctx.runners.put(warmRunner("rh-warm-for-job", { githubJobId: 4202 }));
    await receive(event("in_progress", { ...warmJob, id: 4202, runner_name: "rh-warm-for-job" }));
    expect(await warmEntries()).toEqual([]);

    await ctx.runners.put(runnerRecord(RUNNER, { pool: POOL.name, githubJobId: 0, installationId: INSTALLATION }));
    await receive(event("in_progress", { ...matching, runner_name: RUNNER }));
    expect(await ctx.queues.provision.getJobs(["waiting", "delayed", "active"])).toEqual([]);
  });

  it("counts the runner's time from its container start to the job, once", async () => {
    await ctx.runners.put(warmRunner(WARM_RUNNER));
    const started = event("in_progress", { ...warmJob, runner_name: WARM_RUNNER });
    await receive(started);
    await receive(started);

    expect(await idleSeconds(WARM.name)).toBe(30);
  });
});

describe("webhooks of another installation", () => {
  it("never touch our runner: no busy mark, no completion, no stop", async () => {
    await ctx.runners.put(runnerRecord(RUNNER, { pool: POOL.name, state: "idle", installationId: INSTALLATION }));
    const foreign = <T extends WorkflowJobExample>(payload: T): T => ({ ...payload, installation: { id: 999_999 } });
    await receive(foreign(event("in_progress", { ...matching, runner_name: RUNNER })));
    await receive(foreign(event("completed", { ...matching, runner_name: RUNNER })));

    const untouched = await ctx.runners.get(RUNNER);
    expect(untouched?.state).toBe("idle");
    expect(untouched?.completedAt).toBeUndefined();
    expect(await ctx.queues.runnerOps("test-engine").count()).toBe(0);
    expect(await count(metrics.webhooks, { action: "in_progress", outcome: "other-installation" })).toBe(1);
    expect(await count(metrics.webhooks, { action: "completed", outcome: "other-installation" })).toBe(1);
  });
});

describe("workflow_job.completed", () => {
  it("records the completion and schedules one delayed stop of our runner on its engine", async () => {
    await ctx.runners.put(
      runnerRecord(RUNNER, { pool: POOL.name, state: "busy", busyJobId: matching.id, installationId: INSTALLATION }),
    );
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

describe("a job arriving at an adaptive pool", () => {
  const entriesOf = async (pool: string) =>
    (await ctx.queues.provision.getJobs(["waiting", "delayed", "active"])).filter((entry) =>
      entry.id?.startsWith(`warm-${pool}-`),
    );

  it("asks at once for the warm runners its forecast now wants, with its warmScope; a static pool waits for the reconciler", async () => {
    await receive(event("queued", { id: 4301, labels: ["self-hosted", "adaptive"], runner_name: null }));
    const entries = await entriesOf(ADAPTIVE.name);
    expect(entries.map((entry) => entry.id).sort()).toEqual([warmJobId(ADAPTIVE.name, 1), warmJobId(ADAPTIVE.name, 2)]);
    expect(entries[0]?.data).toMatchObject({
      githubJobId: 0,
      pool: ADAPTIVE.name,
      installationId: INSTALLATION,
      scope: { kind: "org", org: "Octocoders" },
    });
    // A redelivery adds nothing: the entries are the reconciler's own, one per warm slot.
    await receive(event("queued", { id: 4301, labels: ["self-hosted", "adaptive"], runner_name: null }));
    expect(await entriesOf(ADAPTIVE.name)).toHaveLength(2);

    await receive(event("queued", { id: 4302, labels: ["self-hosted", "warm"], runner_name: null }));
    expect(await entriesOf(WARM.name)).toEqual([]);
  });
});
