import { QueueEvents } from "bullmq";
import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { LABELS } from "../../../src/docker/labels.js";
import { createLogger } from "../../../src/observability/logger.js";
import { createMetrics, type Metrics } from "../../../src/observability/metrics.js";
import { randomRunnerSuffix } from "../../../src/pools/runner-names.js";
import { provisionRunner } from "../../../src/provisioning/provision.js";
import type { EngineSlots } from "../../../src/slots/slots.js";
import { startProvisionWorker, type ProvisionWorkerDeps } from "../../../src/provisioning/provision-worker.js";
import { RedisKeys } from "../../../src/state/keys.js";
import { storeContext } from "../../../src/state/store-context.js";
import { createGitHubBudget } from "../../../src/github/budget.js";
import { PARK_FALLBACK_MS } from "../../../src/tunables.js";
import { provisionJobId, type ProvisionRequest } from "../../../src/queue/jobs.js";
import {
  GITHUB_API,
  type ServiceContext,
  provisionRequest,
  removeManagedContainers,
  serviceContext,
  testPool,
  runnerRecord,
} from "../support/context.js";

let ctx: ServiceContext;

beforeAll(async () => {
  ctx = await serviceContext();
  nock.disableNetConnect();
  // Docker (unix socket, seen as localhost) and Redis stay real; only GitHub is played by nock.
  nock.enableNetConnect((host) => host.startsWith("127.0.0.1") || host.startsWith("localhost"));
});

afterEach(async () => {
  nock.cleanAll();
  await removeManagedContainers(ctx.docker);
  await ctx.flushPrefix();
});

afterAll(async () => {
  nock.enableNetConnect();
  await ctx.close();
});

/** Demand as the intake leaves it: in the ledger (GitHub said queued) and described for the queue. */
async function queued(githubJobId: number, fields: Partial<ProvisionRequest> = {}): Promise<ProvisionRequest> {
  const demand = provisionRequest(githubJobId, fields);
  await ctx.ledger.queued(demand);
  return demand;
}

function deps(fields: Partial<ProvisionWorkerDeps> = {}): ProvisionWorkerDeps {
  return {
    github: ctx.newGitHub(),
    engine: ctx.engine,
    engineId: "engine-id",
    ownsEngine: () => true,
    images: ctx.images,
    runners: ctx.runners,
    ledger: ctx.ledger,
    pools: ctx.poolsOf(() => [testPool({ command: ["sleep", "300"] })]),
    slots: ctx.engineSlots,
    githubWebUrl: "https://github.com",
    recheckAfterMs: 10_000,
    feed: ctx.feed,
    metrics: ctx.metrics,
    log: ctx.log,
    now: () => Date.now(),
    randomSuffix: randomRunnerSuffix,
    crashLoops: ctx.crashLoops,
    ...fields,
  };
}

/** GitHub for one JIT config: token, runner groups, the config (answered with `headers`). */
function githubForJit(
  runnerId: number,
  headers: Record<string, string> = {},
  at: { installationId: number; org: string } = { installationId: 7, org: "acme" },
) {
  const jitBodies: unknown[] = [];
  const scope = nock(GITHUB_API)
    .post(`/app/installations/${at.installationId}/access_tokens`)
    .reply(201, { token: "ghs_installation_token", expires_at: new Date(Date.now() + 3600_000).toISOString() })
    .get(`/orgs/${at.org}/actions/runner-groups`)
    .query(true)
    .reply(200, { total_count: 1, runner_groups: [{ id: 3, name: "Default", default: true }] })
    .post(`/orgs/${at.org}/actions/runners/generate-jitconfig`, (body) => {
      jitBodies.push(body);
      return true;
    })
    .reply(
      201,
      (_uri, body) => ({
        runner: {
          id: runnerId,
          name: (body as { name: string }).name,
          os: "linux",
          status: "offline",
          busy: false,
          labels: [],
        },
        encoded_jit_config: "c2VjcmV0LWppdC1jb25maWc=",
      }),
      headers,
    );
  return { scope, jitBodies };
}

describe("provisioner worker (BullMQ on Redis, dockerode on Docker, GitHub on nock)", () => {
  it("turns a queued demand into a labeled, limited runner container and a runner record", async () => {
    const { scope, jitBodies } = githubForJit(501);
    const queues = ctx.queues;
    const events = new QueueEvents(queues.provision.name, { connection: ctx.redis.duplicate(), prefix: ctx.prefix });
    await events.waitUntilReady();
    const worker = startProvisionWorker(deps(), {
      connection: ctx.redis,
      prefix: ctx.prefix,
      concurrency: 2,
      log: ctx.log,
    });
    try {
      const job = await queues.provision.add("provision", await queued(1001), { jobId: provisionJobId(1001) });
      const outcome = await job.waitUntilFinished(events, 30_000);
      expect(outcome).toMatchObject({ kind: "started" });
      scope.done();

      expect(jitBodies).toEqual([{ name: outcome.runnerName, runner_group_id: 3, labels: ["self-hosted", "linux"] }]);
      const info = await ctx.docker.getContainer(outcome.containerId).inspect();
      expect(info.State.Running).toBe(true);
      expect(info.Config.Labels).toMatchObject({
        [LABELS.managed]: "true",
        [LABELS.pool]: "linux",
        [LABELS.runnerName]: outcome.runnerName,
        [LABELS.runnerId]: "501",
        [LABELS.githubJobId]: "1001",
        [LABELS.owner]: "acme",
        [LABELS.installationId]: "7",
      });
      expect(info.Config.Env).toContain("ACTIONS_RUNNER_INPUT_JITCONFIG=c2VjcmV0LWppdC1jb25maWc=");
      expect(info.HostConfig).toMatchObject({
        NetworkMode: "none",
        Memory: 64 * 1024 ** 2,
        PidsLimit: 64,
        CapDrop: ["ALL"],
      });

      const record = await ctx.runners.get(outcome.runnerName);
      expect(record).toMatchObject({
        pool: "linux",
        runnerId: 501,
        containerId: outcome.containerId,
        state: "starting",
        githubJobId: 1001,
      });
    } finally {
      await worker.close();
      await events.close();
    }
  });

  it("adds one queue entry for a redelivered job", async () => {
    const { provision } = ctx.queues;
    await provision.add("provision", provisionRequest(2002), { jobId: provisionJobId(2002) });
    await provision.add("provision", provisionRequest(2002), { jobId: provisionJobId(2002) });
    expect(await provision.getJobCounts("waiting")).toEqual({ waiting: 1 });
    await provision.obliterate({ force: true });
  });

  it("withdraws the registration and keeps no record when the container cannot start", async () => {
    const { scope } = githubForJit(502);
    const deleted = nock(GITHUB_API).delete("/orgs/acme/actions/runners/502").reply(204);
    const broken = deps({ pools: ctx.poolsOf(() => [testPool({ command: ["/no/such/entrypoint"] })]) });
    await expect(provisionRunner(await queued(3003), broken)).rejects.toThrow();
    scope.done();
    deleted.done();
    expect(await ctx.runners.list()).not.toContainEqual(expect.objectContaining({ githubJobId: 3003 }));
  });

  it("spends no registration and reserves no slot while the pool's image is not on the engine", async () => {
    const unexpected = nock(GITHUB_API).post(/.*/).reply(500).get(/.*/).reply(500);
    // pull: never, so the engine never reaches for a registry outside this machine.
    const image = "runnerhub-no-such-image:missing";
    const absent = deps({ pools: ctx.poolsOf(() => [testPool({ image, pull: "never" })]) });
    const outcome = await provisionRunner(await queued(3004), absent);
    expect(outcome).toEqual({ kind: "image-unavailable", retryAt: expect.any(Number) });
    expect(unexpected.pendingMocks()).toHaveLength(2);
    expect(await ctx.slots.holders("linux", Date.now())).toEqual([]);
    expect(await ctx.runners.list()).toEqual([]);
    const record = await ctx.imageStore.get(ctx.engine.name, image);
    expect(record?.failure).toMatchObject({ kind: "not-on-engine", attempts: 1 });
    // Until the backoff runs out, further demand waits without even looking again.
    const again = await provisionRunner(await queued(3005), absent);
    expect(again).toEqual({ kind: "image-unavailable", retryAt: record?.failure?.nextRetryAt });
    expect((await ctx.imageStore.get(ctx.engine.name, image))?.failure?.attempts).toBe(1);
    nock.cleanAll();
  });

  it("checks stale demand with GitHub and skips a job that is no longer queued", async () => {
    const github = nock(GITHUB_API)
      .post("/app/installations/7/access_tokens")
      .reply(201, { token: "ghs_t", expires_at: new Date(Date.now() + 3600_000).toISOString() })
      .get("/repos/acme/app/actions/jobs/4004")
      .reply(200, { id: 4004, status: "completed", conclusion: "cancelled" });
    const outcome = await provisionRunner(await queued(4004, { queuedAt: Date.now() - 60_000 }), deps());
    expect(outcome).toEqual({ kind: "skipped", reason: "demand-met" });
    github.done();
  });

  it("makes no runner, without asking GitHub, while every waiting job of the pool has one coming", async () => {
    const unexpected = nock(GITHUB_API).post(/.*/).reply(500).get(/.*/).reply(500);
    const demand = await queued(5005);
    await ctx.runners.put(
      runnerRecord("linux-0000beef", { engine: ctx.engine.name, githubJobId: 5004, runnerId: 48879 }),
    );
    expect(await provisionRunner(demand, deps())).toEqual({ kind: "skipped", reason: "demand-met" });
    expect(unexpected.pendingMocks()).toHaveLength(2);
  });

  it("starts a runner at once for another installation's job while the first installation's runner idles in the shared pool", async () => {
    // acme's idle runner can never take globex's job: GitHub gives a job only to runners its scope covers.
    await ctx.runners.put(
      runnerRecord("linux-0000a1de", { engine: ctx.engine.name, state: "idle", githubJobId: 5100, runnerId: 41438 }),
    );
    const { scope } = githubForJit(503, {}, { installationId: 8, org: "globex" });
    const events = new QueueEvents(ctx.queues.provision.name, {
      connection: ctx.redis.duplicate(),
      prefix: ctx.prefix,
    });
    await events.waitUntilReady();
    const worker = startProvisionWorker(deps(), {
      connection: ctx.redis,
      prefix: ctx.prefix,
      concurrency: 1,
      log: ctx.log,
    });
    try {
      const demand = await queued(5101, { owner: "globex", installationId: 8, scope: { kind: "org", org: "globex" } });
      const job = await ctx.queues.provision.add("provision", demand, { jobId: provisionJobId(5101) });
      // Well under any reconcile interval: the webhook's own demand makes the runner.
      const outcome = await job.waitUntilFinished(events, 15_000);
      expect(outcome).toMatchObject({ kind: "started" });
      scope.done();
      expect(await ctx.runners.get(outcome.runnerName)).toMatchObject({
        installationId: 8,
        scope: { kind: "org", org: "globex" },
      });
    } finally {
      await worker.close();
      await events.close();
    }
  });

  it("gives a spent installation's places back: another installation's entry starts while the first's wait for its budget", async () => {
    // Installation 7 (acme) told to wait a minute: its runner calls may not go out until then.
    const budget = createGitHubBudget({
      store: storeContext(ctx.redis, ctx.prefix),
      settings: { burstPoints: 300, pointsPerMinute: 600, reservePoints: 100 },
      sleep: () => Promise.resolve(),
      maxWaitMs: 60_000,
    });
    await budget.pause("7", 60_000);
    const acmeTokens = nock(GITHUB_API)
      .persist()
      .post("/app/installations/7/access_tokens")
      .reply(201, { token: "ghs_acme", expires_at: new Date(Date.now() + 3600_000).toISOString() });
    const acmeRegistrations = nock(GITHUB_API).post("/orgs/acme/actions/runners/generate-jitconfig").reply(500);
    const { scope } = githubForJit(504, {}, { installationId: 8, org: "globex" });
    const events = new QueueEvents(ctx.queues.provision.name, {
      connection: ctx.redis.duplicate(),
      prefix: ctx.prefix,
    });
    await events.waitUntilReady();
    // One place, three of acme's entries ahead of globex's.
    const worker = startProvisionWorker(deps(), {
      connection: ctx.redis,
      prefix: ctx.prefix,
      concurrency: 1,
      log: ctx.log,
    });
    try {
      for (const id of [5201, 5202, 5203]) {
        await ctx.queues.provision.add("provision", await queued(id), { jobId: provisionJobId(id) });
      }
      const globex = await queued(5204, { owner: "globex", installationId: 8, scope: { kind: "org", org: "globex" } });
      const job = await ctx.queues.provision.add("provision", globex, { jobId: provisionJobId(5204) });
      // Without giving places back, each of acme's entries would hold the one place for its minute.
      const outcome = await job.waitUntilFinished(events, 20_000);
      expect(outcome).toMatchObject({ kind: "started" });
      scope.done();
      // acme's demand is all still there, delayed until the refill, holding no slot and no registration.
      const delayed = await ctx.queues.provision.getDelayed();
      expect(delayed.map((entry) => entry.data.githubJobId).sort()).toEqual([5201, 5202, 5203]);
      expect(await ctx.slots.holders("linux", Date.now())).toEqual([outcome.runnerName]);
      expect(acmeRegistrations.pendingMocks()).toHaveLength(1);
      expect((await ctx.runners.list()).map((record) => record.githubJobId)).toEqual([5204]);
    } finally {
      acmeTokens.persist(false);
      await worker.close();
      await events.close();
    }
  });

  it("reads none of the pool's busy runners, however many there are, on a first run and a re-run", async () => {
    const busy = Array.from({ length: 100 }, (_, i) => `linux-b${String(i).padStart(7, "0")}`);
    for (const name of busy) {
      await ctx.runners.put(runnerRecord(name, { engine: ctx.engine.name, state: "busy", containerId: "gone" }));
    }
    const idle = "linux-0000feed";
    await ctx.runners.put(runnerRecord(idle, { engine: ctx.engine.name, state: "idle", githubJobId: 7000 }));
    for (const job of [7001, 7002, 7003]) await queued(job);
    const recordKey = new RedisKeys(ctx.prefix).runner("");
    const counted = vi.spyOn(ctx.redis, "mget");
    try {
      githubForJit(701);
      const first = await provisionRunner(provisionRequest(7002), deps(), "entry-7002", false);
      expect(first).toMatchObject({ kind: "started" });
      githubForJit(702);
      const again = await provisionRunner(provisionRequest(7001), deps(), "entry-7001", true);
      expect(again).toMatchObject({ kind: "started" });
      const keys = counted.mock.calls.flat(2).filter((key): key is string => String(key).startsWith(recordKey));
      // The idle runner and the new ones, never one of the hundred busy runners.
      expect(keys.some((key) => busy.some((name) => key.endsWith(`:${name}`)))).toBe(false);
      expect(keys).toContain(`${recordKey}${idle}`);
    } finally {
      counted.mockRestore();
    }
  });

  it("still makes a runner when its own job was taken by another runner but another job waits", async () => {
    // Runners are fungible: the runner made for job A took job B, so B's demand must serve A.
    const { scope } = githubForJit(503);
    const forB = await queued(6002);
    await queued(6001);
    await ctx.ledger.settled("linux", 6002);
    const outcome = await provisionRunner(forB, deps());
    expect(outcome).toMatchObject({ kind: "started" });
    scope.done();
  });

  describe("a slot freed while a job is being parked wakes that job (no lost wake-up)", () => {
    type Point = "before-park" | "after-park" | "before-recheck";

    /** ctx.engineSlots, but `release` runs at one point of the parking sequence, once. */
    function slotsReleasingAt(point: Point, release: () => Promise<void>): EngineSlots {
      const slots = Object.create(ctx.engineSlots) as EngineSlots;
      let fired = false;
      const at = async (reached: Point) => {
        if (reached !== point || fired) return;
        fired = true;
        await release();
      };
      slots.park = async (...args) => {
        await at("before-park");
        await ctx.engineSlots.park(...args);
        await at("after-park");
      };
      slots.hasRoom = async (pool) => {
        await at("before-recheck");
        return ctx.engineSlots.hasRoom(pool);
      };
      return slots;
    }

    // "after-park" is the race that lost the job before the fix: a release popped the parked
    // entry before it was delayed, could not promote it, and the job sat out the 30 s safety net.
    it.each<Point>(["before-park", "after-park", "before-recheck"])(
      "release %s: the parked job is started without waiting for the safety net",
      async (point) => {
        const { scope } = githubForJit(601);
        const pool = testPool({ command: ["sleep", "300"], maxRunners: 1 });
        const holder = { name: "linux", maxRunners: 1 };
        await ctx.engineSlots.reserve(holder, "linux-holder");
        await ctx.engineSlots.confirm(holder, "linux-holder");
        const slots = slotsReleasingAt(point, () => ctx.engineSlots.release("linux", "linux-holder"));
        const events = new QueueEvents(ctx.queues.provision.name, {
          connection: ctx.redis.duplicate(),
          prefix: ctx.prefix,
        });
        await events.waitUntilReady();
        const worker = startProvisionWorker(deps({ pools: ctx.poolsOf(() => [pool]), slots }), {
          connection: ctx.redis,
          prefix: ctx.prefix,
          concurrency: 1,
          log: ctx.log,
        });
        try {
          const job = await ctx.queues.provision.add("provision", await queued(7007), { jobId: provisionJobId(7007) });
          // Well inside PARK_FALLBACK_MS: only a wake-up, never the safety net, can finish it in time.
          expect(PARK_FALLBACK_MS).toBeGreaterThan(20_000);
          const outcome = await job.waitUntilFinished(events, 20_000);
          expect(outcome).toMatchObject({ kind: "started" });
          scope.done();
        } finally {
          await worker.close();
          await events.close();
          await ctx.queues.provision.obliterate({ force: true });
        }
      },
    );
  });
});

describe("overflow: a job its pool cannot start moves to the pool's overflow pool", () => {
  const full = testPool({ name: "linux", command: ["sleep", "300"], maxRunners: 0, overflow: "spill" });
  const spill = (maxRunners: number) =>
    testPool({ name: "spill", labels: ["self-hosted", "linux", "spill"], command: ["sleep", "300"], maxRunners });

  /** Runs one job through a worker; resolves with its entry once it started or was parked. */
  async function runJob(pools: ReturnType<typeof testPool>[], demand: ProvisionRequest, metrics: Metrics) {
    const events = new QueueEvents(ctx.queues.provision.name, {
      connection: ctx.redis.duplicate(),
      prefix: ctx.prefix,
    });
    await events.waitUntilReady();
    const worker = startProvisionWorker(deps({ pools: ctx.poolsOf(() => pools), metrics }), {
      connection: ctx.redis,
      prefix: ctx.prefix,
      concurrency: 1,
      log: ctx.log,
    });
    try {
      const job = await ctx.queues.provision.add("provision", demand, { jobId: provisionJobId(demand.githubJobId) });
      const parked = () => ctx.redis.zcard(new RedisKeys(ctx.prefix).parked("pool", "linux"));
      const done = job.waitUntilFinished(events, 20_000).then((outcome: unknown) => ({ outcome }));
      const waiting = vi.waitFor(async () => expect(await parked()).toBe(1), { timeout: 20_000 }).then(() => ({}));
      const result = (await Promise.race([done, waiting])) as { outcome?: unknown };
      return { result, entry: await ctx.queues.provision.getJob(provisionJobId(demand.githubJobId)) };
    } finally {
      await worker.close();
      await events.close();
    }
  }

  async function overflows(metrics: Metrics): Promise<number> {
    return (await metrics.overflows.get()).values.find((v) => v.labels.from === "linux")?.value ?? 0;
  }

  afterEach(async () => {
    await ctx.queues.provision.obliterate({ force: true });
  });

  it("starts it in the overflow pool when that pool has room, counted there, the ledger entry moved", async () => {
    const { scope } = githubForJit(801);
    const metrics = createMetrics();
    const { result, entry } = await runJob([full, spill(1)], await queued(8001), metrics);
    expect(result.outcome).toMatchObject({ kind: "started" });
    expect(entry?.data).toMatchObject({ pool: "spill", overflowedFrom: "linux" });
    expect(await ctx.engineSlots.hasRoom({ name: "spill", maxRunners: 1 })).toBe(false);
    expect(await ctx.ledger.waitingCount("linux")).toBe(0);
    expect(await ctx.ledger.waitingCount("spill")).toBe(1);
    expect(await overflows(metrics)).toBe(1);
    expect((await ctx.feed.recent(10)).map((event) => [event.kind, event.pool, event.reason])).toContainEqual([
      "overflowed",
      "spill",
      "from linux (pool-full)",
    ]);
    scope.done();
  });

  it("leaves it parked in its own pool when the overflow pool is full too, or when it overflowed once already", async () => {
    const metrics = createMetrics();
    const first = await runJob([full, spill(0)], await queued(8002), metrics);
    expect(first.result.outcome).toBeUndefined();
    expect(first.entry?.data.pool).toBe("linux");
    await ctx.flushPrefix();

    const again = await runJob([full, spill(1)], await queued(8003, { overflowedFrom: "other" }), metrics);
    expect(again.result.outcome).toBeUndefined();
    expect(again.entry?.data.pool).toBe("linux");
    expect(await ctx.ledger.waitingCount("linux")).toBe(1);
    expect(await overflows(metrics)).toBe(0);
  });
});

describe("what one provision tells operators", () => {
  async function histogramCount(metrics: Metrics, name: string): Promise<number> {
    const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
    const count = metric?.values.find((v) => (v as { metricName?: string }).metricName === `${name}_count`);
    return count?.value ?? 0;
  }

  it("puts pool, runnerName, jobId and deliveryId on its log lines and times each phase", async () => {
    const lines: string[] = [];
    const log = createLogger("debug", { write: (line: string) => void lines.push(line) });
    const metrics = createMetrics();
    const { scope } = githubForJit(601, { "x-ratelimit-remaining": "4321", "x-ratelimit-resource": "core" });
    const outcome = await provisionRunner(
      await queued(6006, { deliveryId: "delivery-6006", enqueuedAt: Date.now() }),
      deps({ log, metrics, github: ctx.newGitHub(metrics) }),
    );
    scope.done();
    expect(outcome.kind).toBe("started");
    const runnerName = outcome.kind === "started" ? outcome.runnerName : "";

    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const aboutRunner = parsed.filter((line) => line.runnerName !== undefined);
    expect(aboutRunner.map((line) => line.msg)).toContain("runner started");
    for (const line of parsed.filter((l) => l.name !== "github")) {
      expect(line, String(line.msg)).toMatchObject({ pool: "linux", jobId: 6006, deliveryId: "delivery-6006" });
    }
    for (const line of aboutRunner) expect(line.runnerName).toBe(runnerName);
    for (const line of lines) expect(line.match(/"name":/g)?.length ?? 0).toBeLessThanOrEqual(1);

    for (const name of [
      "runnerhub_capacity_wait_seconds",
      "runnerhub_jit_config_seconds",
      "runnerhub_container_start_seconds",
      "runnerhub_provision_seconds",
    ]) {
      expect(await histogramCount(metrics, name), name).toBe(1);
    }
    const text = await metrics.registry.metrics();
    expect(text).toMatch(
      /^runnerhub_github_requests_total\{installation="7",route="POST \/orgs\/\{org\}\/actions\/runners\/generate-jitconfig",status="201"\} 1$/m,
    );
    expect(text).toMatch(/^runnerhub_github_rate_limit_remaining\{installation="7",resource="core"\} 4321$/m);
    expect(text).toMatch(
      /^runnerhub_github_requests_total\{installation="7",route="GET \/orgs\/\{org\}\/actions\/runner-groups",status="200"\} 1$/m,
    );
  });
});
