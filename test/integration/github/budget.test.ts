import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import nock from "nock";
import { Probot } from "probot";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createGitHubBudget,
  GitHubBudgetSpent,
  type GitHubBudget,
  type GitHubBudgetSettings,
} from "../../../src/github/budget.js";
import { BelowRateLimitFloor, createRunnerhubOctokit, GitHubRequestTimeout } from "../../../src/github/octokit.js";
import { createRunnersApi } from "../../../src/github/runners-api.js";
import { RUNNER_GROUP_CACHE_MS } from "../../../src/tunables.js";
import { createLogger } from "../../../src/observability/logger.js";
import { createMetrics } from "../../../src/observability/metrics.js";
import {
  GITHUB_API,
  serviceContext,
  TEST_GITHUB_TIMEOUT_MS,
  testPrivateKey,
  type ServiceContext,
} from "../support/context.js";
import { storeContext } from "../../../src/state/store-context.js";

let ctx: ServiceContext;
/** A second process: its own Redis connection, the same prefix. */
let other: Redis;

beforeAll(async () => {
  ctx = await serviceContext();
  other = ctx.redis.duplicate();
  nock.disableNetConnect();
  nock.enableNetConnect((host) => host.startsWith("127.0.0.1") || host.startsWith("localhost"));
});

afterEach(async () => {
  nock.cleanAll();
  await ctx.flushPrefix();
});

afterAll(async () => {
  nock.enableNetConnect();
  await other.quit();
  await ctx.close();
});

function budgetOn(redis: Redis, settings: GitHubBudgetSettings): GitHubBudget {
  return createGitHubBudget({
    store: storeContext(redis, ctx.prefix),
    settings,
    sleep: (ms) => sleep(ms),
    maxWaitMs: 30_000,
  });
}

const JIT = { priority: "runner", points: 5 } as const;
const READ = { priority: "other", points: 1 } as const;
const WRITE = { priority: "other", points: 5 } as const;
/** A refill so slow that nothing comes back while a test runs. */
const FROZEN = 0.001;

describe("GitHub budget (one token bucket in Redis for every process)", () => {
  it("is one bucket for two clients: what one spends, the other cannot", async () => {
    const settings = { burstPoints: 50, pointsPerMinute: FROZEN, reservePoints: 0 };
    const a = budgetOn(ctx.redis, settings);
    const b = budgetOn(other, settings);
    const granted = { a: 0, b: 0 };
    for (let i = 0; i < 10; i++) {
      if ((await a.tryTake("7", JIT)) === 0) granted.a++;
      if ((await b.tryTake("7", JIT)) === 0) granted.b++;
    }
    expect(granted).toEqual({ a: 5, b: 5 });
    expect(await a.tryTake("7", JIT)).toBeGreaterThan(0);
    expect(await b.tryTake("7", READ)).toBeGreaterThan(0);
  });

  it("keeps two clients spending as fast as they can within burst + refill", async () => {
    // 10 points a second, burst 20: in T seconds at most 20 + 10 T points, however fast they ask.
    const settings = { burstPoints: 20, pointsPerMinute: 600, reservePoints: 0 };
    const clients = [budgetOn(ctx.redis, settings), budgetOn(other, settings)];
    const started = Date.now();
    const spent = [0, 0];
    await Promise.all(
      clients.map(async (client, index) => {
        while (Date.now() - started < 1_500) {
          await client.take("7", JIT);
          spent[index] = (spent[index] ?? 0) + JIT.points;
        }
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    const total = (spent[0] ?? 0) + (spent[1] ?? 0);
    expect(total).toBeLessThanOrEqual(20 + 10 * seconds + JIT.points);
    // Both were served, and the refill was used, not only the burst.
    expect(spent[0]).toBeGreaterThan(0);
    expect(spent[1]).toBeGreaterThan(0);
    expect(total).toBeGreaterThan(20);
  });

  it("leaves the reserve to runner registrations and deletions", async () => {
    const budget = budgetOn(ctx.redis, { burstPoints: 30, pointsPerMinute: FROZEN, reservePoints: 10 });
    // Other calls may spend down to the reserve (20 points) and no further.
    expect(await budget.tryTake("7", WRITE)).toBe(0);
    expect(await budget.tryTake("7", WRITE)).toBe(0);
    expect(await budget.tryTake("7", WRITE)).toBe(0);
    expect(await budget.tryTake("7", WRITE)).toBe(0);
    expect(await budget.tryTake("7", READ)).toBeGreaterThan(0);
    expect(await budget.tryTake("7", WRITE)).toBeGreaterThan(0);
    // Runner calls still get the last 10.
    expect(await budget.tryTake("7", JIT)).toBe(0);
    expect(await budget.tryTake("7", JIT)).toBe(0);
    expect(await budget.tryTake("7", JIT)).toBeGreaterThan(0);
  });

  it("makes a pause asked for by one client hold for every client, runner calls included", async () => {
    const settings = { burstPoints: 300, pointsPerMinute: 600, reservePoints: 0 };
    await budgetOn(ctx.redis, settings).pause("7", 5_000);
    const wait = await budgetOn(other, settings).tryTake("7", JIT);
    expect(wait).toBeGreaterThan(4_000);
    expect(wait).toBeLessThanOrEqual(5_000);
  });

  it("pauses the installation GitHub refused, not the others, and lets it resume from an empty bucket", async () => {
    // 5 points a second: the paused installation's bucket refills one write within the test, and a
    // second write cannot refill in the moment between the two calls below, however loaded the machine.
    const settings = { burstPoints: 300, pointsPerMinute: 300, reservePoints: 0 };
    const here = budgetOn(ctx.redis, settings);
    const elsewhere = budgetOn(other, settings);
    await here.pause("7", 300);
    expect(await elsewhere.tryTake("7", JIT)).toBeGreaterThan(0);
    // Installation 8 and the app's own calls spend from their own buckets as if nothing happened.
    for (let i = 0; i < 10; i++) expect(await elsewhere.tryTake("8", JIT)).toBe(0);
    expect(await elsewhere.tryTake("app", READ)).toBe(0);
    // Once the pause is over, 7 starts from nothing and gets a write only as its bucket refills.
    await elsewhere.take("7", JIT);
    expect(await here.tryTake("7", JIT)).toBeGreaterThan(0);
    expect(await here.tryTake("8", JIT)).toBe(0);
  });

  it("keeps one bucket per installation: one installation's spent budget leaves another's whole", async () => {
    const settings = { burstPoints: 50, pointsPerMinute: FROZEN, reservePoints: 0 };
    const here = budgetOn(ctx.redis, settings);
    const elsewhere = budgetOn(other, settings);
    for (let i = 0; i < 10; i++) expect(await here.tryTake("7", JIT)).toBe(0);
    expect(await elsewhere.tryTake("7", JIT)).toBeGreaterThan(0);
    // Installation 8 and the app's JWT get their whole burst, from either process.
    for (let i = 0; i < 10; i++) expect(await elsewhere.tryTake("8", JIT)).toBe(0);
    for (let i = 0; i < 50; i++) expect(await here.tryTake("app", READ)).toBe(0);
    expect(await here.tryTake("8", READ)).toBeGreaterThan(0);
    expect(await here.figures("7")).toEqual({ points: 0, pausedForMs: 0, belowFloor: undefined });
    expect(await here.figures("9")).toEqual({ points: 50, pausedForMs: 0, belowFloor: undefined });
  });

  it("reports a paused installation's pause and its floor in its figures", async () => {
    const budget = createGitHubBudget({
      store: ctx.store,
      settings: { burstPoints: 300, pointsPerMinute: 600, reservePoints: 0 },
      sleep: (ms) => sleep(ms),
      maxWaitMs: 30_000,
      rateLimitFloor: 50,
    });
    await budget.pause("7", 5_000);
    await budget.observeRateLimit("7", 12, 600_000);
    const figures = await budget.figures("7");
    expect(figures.pausedForMs).toBeGreaterThan(4_000);
    expect(figures.pausedForMs).toBeLessThanOrEqual(5_000);
    expect(figures.points).toBeLessThanOrEqual(0);
    expect(figures.belowFloor).toBe(12);
    expect(await budget.figures("8")).toEqual({ points: 300, pausedForMs: 0, belowFloor: undefined });
  });

  it("fails a call that cannot get its points within its bound, naming the setting", async () => {
    const budget = createGitHubBudget({
      store: ctx.store,
      settings: { burstPoints: 5, pointsPerMinute: FROZEN, reservePoints: 0 },
      sleep: () => Promise.resolve(),
      maxWaitMs: 1_000,
    });
    await budget.take("7", JIT);
    await expect(budget.take("7", JIT)).rejects.toThrow(/RUNNERHUB_GITHUB_POINTS_PER_MINUTE/);
  });

  it("refuses a runner call beyond its short bound at once, typed with when to ask again; other calls keep the long bound", async () => {
    const budget = createGitHubBudget({
      store: ctx.store,
      settings: { burstPoints: 300, pointsPerMinute: 600, reservePoints: 0 },
      sleep: () => Promise.resolve(),
      maxWaitMs: 60_000,
      runnerMaxWaitMs: 2_000,
    });
    await budget.pause("7", 30_000);
    const refused = await budget.take("7", JIT).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(GitHubBudgetSpent);
    expect(refused).toMatchObject({ installation: "7" });
    expect((refused as GitHubBudgetSpent).retryInMs).toBeGreaterThan(25_000);
    // A list may wait out the pause (the injected sleep lets no time pass, so it is refused only after its minute).
    await expect(budget.take("7", { priority: "other", points: 1 })).rejects.toThrow(/within 60000 ms/);
  });
});

describe("runnerhub's Octokit on the shared budget (GitHub on nock)", () => {
  function runnersApi(
    budget: GitHubBudget,
    metrics = createMetrics(),
    pause = (ms: number) => sleep(ms),
    timeoutMs = TEST_GITHUB_TIMEOUT_MS,
    now = () => Date.now(),
  ) {
    const probot = new Probot({
      appId: 1,
      privateKey: testPrivateKey,
      secret: "s",
      baseUrl: GITHUB_API,
      log: createLogger("silent"),
      Octokit: createRunnerhubOctokit({
        budget,
        metrics,
        timeoutMs,
        log: createLogger("silent"),
        now: () => Date.now(),
        sleep: pause,
      }),
    });
    return createRunnersApi((id) => probot.auth(id), now);
  }
  /** A runners API whose pauses between tries are recorded and skipped. */
  function runnersApiWithWaits(budget: GitHubBudget, metrics = createMetrics(), timeoutMs = TEST_GITHUB_TIMEOUT_MS) {
    const waits: number[] = [];
    const api = runnersApi(
      budget,
      metrics,
      (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
      timeoutMs,
    );
    return { waits, api };
  }
  const target = { installationId: 7, scope: { kind: "org", org: "acme" } } as const;
  const jitReply = {
    runner: { id: 9, name: "r", os: "linux", status: "offline", busy: false, labels: [] },
    encoded_jit_config: "c2VjcmV0",
  };
  const token = () =>
    nock(GITHUB_API)
      .post("/app/installations/7/access_tokens")
      .reply(201, { token: "ghs_x", expires_at: new Date(Date.now() + 3600_000).toISOString() });

  it("spends a write's points on a JIT config and a read's on a list", async () => {
    const budget = budgetOn(ctx.redis, { burstPoints: 16, pointsPerMinute: FROZEN, reservePoints: 0 });
    token();
    nock(GITHUB_API)
      .post("/orgs/acme/actions/runners/generate-jitconfig")
      .reply(201, jitReply)
      .get("/orgs/acme/actions/runners")
      .query(true)
      .reply(200, { total_count: 0, runners: [] });
    const api = runnersApi(budget);
    await api.generateJitConfig(target, { name: "r", runnerGroupId: 1, labels: ["self-hosted"] });
    await api.listRunners(target);
    // 16 - 5 (installation token) - 5 (JIT config) - 1 (list) = 5 left: one more write fits, then nothing.
    expect(await budget.tryTake("7", JIT)).toBe(0);
    expect(await budget.tryTake("7", READ)).toBeGreaterThan(0);
  });

  it("below the rate-limit floor, skips job-status checks and lists but still registers runners", async () => {
    const budget = createGitHubBudget({
      store: ctx.store,
      settings: { burstPoints: 300, pointsPerMinute: 600, reservePoints: 0 },
      sleep: (ms) => sleep(ms),
      maxWaitMs: 30_000,
      rateLimitFloor: 50,
    });
    const reset = String(Math.floor(Date.now() / 1000) + 600);
    token();
    const github = nock(GITHUB_API)
      .get("/repos/acme/app/actions/jobs/41")
      .reply(200, { status: "queued" }, { "x-ratelimit-remaining": "49", "x-ratelimit-reset": reset })
      .post("/orgs/acme/actions/runners/generate-jitconfig")
      .reply(201, jitReply, { "x-ratelimit-remaining": "48", "x-ratelimit-reset": reset })
      .delete("/orgs/acme/actions/runners/9")
      .reply(204, "", { "x-ratelimit-remaining": "47", "x-ratelimit-reset": reset });
    const api = runnersApi(budget);
    expect(await api.jobStatus(7, "acme", "app", 41)).toBe("queued");
    // Another process (its own connection) knows it from the first one's response.
    const elsewhere = createGitHubBudget({
      store: storeContext(other, ctx.prefix),
      settings: { burstPoints: 300, pointsPerMinute: 600, reservePoints: 0 },
      sleep: (ms) => sleep(ms),
      maxWaitMs: 30_000,
      rateLimitFloor: 50,
    });
    expect(await elsewhere.belowFloor("7")).toBe(49);
    await expect(api.jobStatus(7, "acme", "app", 41)).rejects.toBeInstanceOf(BelowRateLimitFloor);
    await expect(api.listRunners(target)).rejects.toThrow(/RUNNERHUB_GITHUB_RATE_FLOOR/);
    await api.generateJitConfig(target, { name: "r", runnerGroupId: 1, labels: ["self-hosted"] });
    expect(await api.deleteRunner(target, 9)).toBe("deleted");
    expect(github.isDone()).toBe(true);
  });

  it("honours retry-after: every process pauses, then the request is tried again", async () => {
    const settings = { burstPoints: 300, pointsPerMinute: 600, reservePoints: 0 };
    const budget = budgetOn(ctx.redis, settings);
    const elsewhere = budgetOn(other, settings);
    token();
    const attempts: number[] = [];
    let pausedElsewhere = 0;
    nock(GITHUB_API)
      .post("/orgs/acme/actions/runners/generate-jitconfig")
      .reply(() => {
        attempts.push(Date.now());
        return [403, { message: "You have exceeded a secondary rate limit." }, { "retry-after": "1" }];
      })
      .post("/orgs/acme/actions/runners/generate-jitconfig")
      .reply(() => {
        attempts.push(Date.now());
        return [201, jitReply];
      });
    const metrics = createMetrics();
    const api = runnersApi(budget, metrics);
    const pending = api.generateJitConfig(target, { name: "r", runnerGroupId: 1, labels: ["self-hosted"] });
    // While the first process waits, another one is told to wait too.
    const deadline = Date.now() + 10_000;
    while (attempts.length === 0 && Date.now() < deadline) await sleep(10);
    while (pausedElsewhere === 0 && attempts.length === 1 && Date.now() < deadline) {
      pausedElsewhere = await elsewhere.tryTake("7", READ);
    }
    await expect(pending).resolves.toMatchObject({ runnerId: 9 });
    expect(attempts).toHaveLength(2);
    expect(pausedElsewhere).toBeGreaterThan(0);
    expect((attempts[1] ?? 0) - (attempts[0] ?? 0)).toBeGreaterThanOrEqual(950);
    // Every attempt is counted, the refused one too.
    const counted = await metrics.registry.metrics();
    for (const status of ["403", "201"]) {
      expect(counted).toContain(
        `runnerhub_github_requests_total{installation="7",route="POST /orgs/{org}/actions/runners/generate-jitconfig",status="${status}"} 1`,
      );
    }
    // The pause is counted for its installation, and the second attempt's wait for it too.
    expect(counted).toContain('runnerhub_github_pauses_total{installation="7"} 1');
    const waited = /runnerhub_github_budget_wait_seconds_total\{installation="7"\} ([\d.e-]+)/.exec(counted);
    expect(Number(waited?.[1])).toBeGreaterThan(0.9);
  });

  it("holds only the installation GitHub rate-limited: another installation's JIT config goes through meanwhile", async () => {
    const budget = budgetOn(ctx.redis, { burstPoints: 300, pointsPerMinute: 600, reservePoints: 0 });
    token();
    nock(GITHUB_API)
      .post("/app/installations/8/access_tokens")
      .reply(201, { token: "ghs_y", expires_at: new Date(Date.now() + 3600_000).toISOString() });
    const attempts: string[] = [];
    nock(GITHUB_API)
      .post("/orgs/acme/actions/runners/generate-jitconfig")
      .reply(() => {
        attempts.push("acme refused");
        return [429, { message: "You have exceeded a secondary rate limit." }, { "retry-after": "3" }];
      })
      .post("/orgs/acme/actions/runners/generate-jitconfig")
      .reply(() => {
        attempts.push("acme");
        return [201, jitReply];
      })
      .post("/orgs/globex/actions/runners/generate-jitconfig")
      .reply(() => {
        attempts.push("globex");
        return [201, jitReply];
      });
    const api = runnersApi(budget);
    const runner = { name: "r", runnerGroupId: 1, labels: ["self-hosted"] };
    const acme = api.generateJitConfig(target, runner);
    const deadline = Date.now() + 10_000;
    while (attempts.length === 0 && Date.now() < deadline) await sleep(10);
    await api.generateJitConfig({ installationId: 8, scope: { kind: "org", org: "globex" } }, runner);
    // Installation 8 was served while 7 was still paused (before, every installation waited out 7's pause).
    expect(await budget.tryTake("7", READ)).toBeGreaterThan(0);
    await expect(acme).resolves.toMatchObject({ runnerId: 9 });
    expect(attempts).toEqual(["acme refused", "globex", "acme"]);
  });

  it("waits for x-ratelimit-reset when the primary limit is spent, and gives up after three tries", async () => {
    const budget = budgetOn(ctx.redis, { burstPoints: 300, pointsPerMinute: 600, reservePoints: 0 });
    token();
    const resetHeaders = () => ({
      "x-ratelimit-remaining": "0",
      "x-ratelimit-reset": String(Math.ceil(Date.now() / 1000)),
    });
    nock(GITHUB_API)
      .get("/orgs/acme/actions/runners")
      .query(true)
      .times(3)
      .reply(403, { message: "API rate limit exceeded" }, resetHeaders());
    const api = runnersApi(budget);
    await expect(api.listRunners(target)).rejects.toMatchObject({ status: 403 });
    expect(nock.isDone()).toBe(true);
  });

  it("tries a server error again after 1 s and 4 s, spending points each time, then gives up", async () => {
    const budget = budgetOn(ctx.redis, { burstPoints: 300, pointsPerMinute: FROZEN, reservePoints: 0 });
    token();
    nock(GITHUB_API)
      .post("/orgs/acme/actions/runners/generate-jitconfig")
      .reply(502, { message: "Server Error" })
      .post("/orgs/acme/actions/runners/generate-jitconfig")
      .reply(201, jitReply)
      .get("/orgs/acme/actions/runners")
      .query(true)
      .times(3)
      .reply(500, { message: "Server Error" });
    const { waits, api } = runnersApiWithWaits(budget);
    await expect(
      api.generateJitConfig(target, { name: "r", runnerGroupId: 1, labels: ["self-hosted"] }),
    ).resolves.toMatchObject({ runnerId: 9 });
    expect(waits).toEqual([1_000]);
    await expect(api.listRunners(target)).rejects.toMatchObject({ status: 500 });
    expect(waits).toEqual([1_000, 1_000, 4_000]);
    expect(nock.isDone()).toBe(true);
    // 300 - 5 (token) - 2 x 5 (JIT config tried twice) - 3 x 1 (list tried three times) = 282.
    expect(await budget.tryTake("7", { priority: "other", points: 282 })).toBe(0);
    expect(await budget.tryTake("7", READ)).toBeGreaterThan(0);
  });

  it("does not retry a 422: the same request would get the same answer", async () => {
    const budget = budgetOn(ctx.redis, { burstPoints: 300, pointsPerMinute: 600, reservePoints: 0 });
    token();
    nock(GITHUB_API).post("/orgs/acme/actions/runners/generate-jitconfig").reply(422, { message: "Validation Failed" });
    const { waits, api } = runnersApiWithWaits(budget);
    await expect(
      api.generateJitConfig(target, { name: "r", runnerGroupId: 1, labels: ["self-hosted"] }),
    ).rejects.toMatchObject({ status: 422 });
    expect(waits).toEqual([]);
    expect(nock.isDone()).toBe(true);
  });

  it("does not retry a 403 that is not a rate limit", async () => {
    const budget = budgetOn(ctx.redis, { burstPoints: 300, pointsPerMinute: 600, reservePoints: 0 });
    token();
    nock(GITHUB_API)
      .post("/orgs/acme/actions/runners/generate-jitconfig")
      .reply(403, { message: "Resource not accessible by integration" });
    const api = runnersApi(budget);
    await expect(
      api.generateJitConfig(target, { name: "r", runnerGroupId: 1, labels: ["self-hosted"] }),
    ).rejects.toMatchObject({ status: 403 });
    expect(await budget.tryTake("7", READ)).toBe(0);
  });

  describe("the runner-group lookup a JIT config needs", () => {
    const groups = (...list: { id: number; name: string }[]) => ({ total_count: list.length, runner_groups: list });

    it("is a runner call: made below the rate-limit floor and from the reserve", async () => {
      // The reserve is the whole bucket and never refills: only runner calls can spend anything.
      const budget = createGitHubBudget({
        store: ctx.store,
        settings: { burstPoints: 11, pointsPerMinute: FROZEN, reservePoints: 11 },
        sleep: (ms) => sleep(ms),
        maxWaitMs: 1_000,
        rateLimitFloor: 50,
      });
      await budget.observeRateLimit("7", 10, 600_000);
      token();
      const github = nock(GITHUB_API)
        .get("/orgs/acme/actions/runner-groups")
        .query(true)
        .reply(200, groups({ id: 3, name: "Builders" }))
        .post("/orgs/acme/actions/runners/generate-jitconfig")
        .reply(201, jitReply);
      const api = runnersApi(budget);
      const runnerGroupId = await api.runnerGroupId(target, "builders");
      expect(runnerGroupId).toBe(3);
      await api.generateJitConfig(target, { name: "r", runnerGroupId, labels: ["self-hosted"] });
      expect(github.isDone()).toBe(true);
    });

    it("keeps a group id for RUNNER_GROUP_CACHE_MS, then reads the groups again", async () => {
      const budget = budgetOn(ctx.redis, { burstPoints: 300, pointsPerMinute: 600, reservePoints: 0 });
      let clock = 1_000_000;
      const api = runnersApi(
        budget,
        createMetrics(),
        (ms) => sleep(ms),
        TEST_GITHUB_TIMEOUT_MS,
        () => clock,
      );
      token();
      const github = nock(GITHUB_API)
        .get("/orgs/acme/actions/runner-groups")
        .query(true)
        .reply(200, groups({ id: 3, name: "Builders" }))
        .get("/orgs/acme/actions/runner-groups")
        .query(true)
        .reply(200, groups({ id: 4, name: "Builders" }));
      expect(await api.runnerGroupId(target, "Builders")).toBe(3);
      clock += RUNNER_GROUP_CACHE_MS - 1;
      expect(await api.runnerGroupId(target, "Builders")).toBe(3);
      expect(github.pendingMocks()).toHaveLength(1);
      clock += 1;
      expect(await api.runnerGroupId(target, "Builders")).toBe(4);
      expect(github.isDone()).toBe(true);
    });

    it("forgets a group id GitHub refuses a JIT config for (404/422), and a group that is gone", async () => {
      const budget = budgetOn(ctx.redis, { burstPoints: 300, pointsPerMinute: 600, reservePoints: 0 });
      const api = runnersApi(budget);
      token();
      const github = nock(GITHUB_API)
        .get("/orgs/acme/actions/runner-groups")
        .query(true)
        .reply(200, groups({ id: 3, name: "Builders" }, { id: 5, name: "Testers" }))
        .post("/orgs/acme/actions/runners/generate-jitconfig")
        .reply(422, { message: "Invalid request: no runner group 3" })
        .get("/orgs/acme/actions/runner-groups")
        .query(true)
        .reply(200, groups({ id: 4, name: "Builders" }))
        .get("/orgs/acme/actions/runner-groups")
        .query(true)
        .reply(200, groups({ id: 4, name: "Builders" }));
      const runner = { name: "r", runnerGroupId: await api.runnerGroupId(target, "Builders"), labels: ["x"] };
      await expect(api.generateJitConfig(target, runner)).rejects.toMatchObject({ status: 422 });
      expect(await api.runnerGroupId(target, "Builders")).toBe(4);
      // The second read replaced the first: a group deleted since is looked up again, not taken from the cache.
      await expect(api.runnerGroupId(target, "Testers")).rejects.toThrow(/runner group "Testers" does not exist/);
      expect(github.isDone()).toBe(true);
    });
  });

  describe("a request GitHub never answers (RUNNERHUB_GITHUB_TIMEOUT)", () => {
    /** Far longer than any deadline below: the reply would come only after the test has ended. */
    const NEVER_MS = 120_000;
    const DEADLINE_MS = 300;

    it("is aborted at the deadline, counted with status timeout, and not tried again", async () => {
      const budget = budgetOn(ctx.redis, { burstPoints: 300, pointsPerMinute: 600, reservePoints: 0 });
      token();
      nock(GITHUB_API).post("/orgs/acme/actions/runners/generate-jitconfig").delay(NEVER_MS).reply(201, jitReply);
      const metrics = createMetrics();
      const { waits, api } = runnersApiWithWaits(budget, metrics, DEADLINE_MS);
      const started = performance.now();
      const failure = api.generateJitConfig(target, { name: "r", runnerGroupId: 1, labels: ["self-hosted"] });
      await expect(failure).rejects.toBeInstanceOf(GitHubRequestTimeout);
      await expect(failure).rejects.toMatchObject({
        method: "POST",
        route: "/orgs/{org}/actions/runners/generate-jitconfig",
        timeoutMs: DEADLINE_MS,
        installation: "7",
        message: expect.stringMatching(/RUNNERHUB_GITHUB_TIMEOUT/),
      });
      expect(performance.now() - started).toBeGreaterThanOrEqual(DEADLINE_MS - 1);
      // Not a server error: no wait-and-retry within the request, no HTTP status to misread.
      expect(waits).toEqual([]);
      await expect(failure).rejects.not.toHaveProperty("status");
      const counted = await metrics.registry.metrics();
      expect(counted).toContain(
        'runnerhub_github_requests_total{installation="7",route="POST /orgs/{org}/actions/runners/generate-jitconfig",status="timeout"} 1',
      );
    });

    it("bounds a call whose installation token hangs: both are given up at their deadlines", async () => {
      const budget = budgetOn(ctx.redis, { burstPoints: 300, pointsPerMinute: 600, reservePoints: 0 });
      nock(GITHUB_API)
        .post("/app/installations/7/access_tokens")
        .delay(NEVER_MS)
        .reply(201, { token: "ghs_x", expires_at: new Date(Date.now() + 3600_000).toISOString() });
      const metrics = createMetrics();
      const { api } = runnersApiWithWaits(budget, metrics, DEADLINE_MS);
      await expect(api.listRunners(target)).rejects.toBeInstanceOf(GitHubRequestTimeout);
      await waitForMetric(
        metrics,
        'installation="7",route="POST /app/installations/{installation_id}/access_tokens",status="timeout"} 1',
      );
      expect(await metrics.registry.metrics()).toContain(
        'installation="7",route="GET /orgs/{org}/actions/runners",status="timeout"} 1',
      );
    });

    it("leaves a request answered in time alone", async () => {
      const budget = budgetOn(ctx.redis, { burstPoints: 300, pointsPerMinute: 600, reservePoints: 0 });
      token();
      nock(GITHUB_API).post("/orgs/acme/actions/runners/generate-jitconfig").delay(50).reply(201, jitReply);
      const { api } = runnersApiWithWaits(budget, createMetrics(), 5_000);
      await expect(
        api.generateJitConfig(target, { name: "r", runnerGroupId: 1, labels: ["self-hosted"] }),
      ).resolves.toMatchObject({ runnerId: 9 });
    });
  });
});

/** The token request's own deadline may end a moment after the call's: poll the count, bounded. */
async function waitForMetric(metrics: ReturnType<typeof createMetrics>, fragment: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await metrics.registry.metrics()).includes(fragment)) {
    if (Date.now() > deadline) throw new Error(`no metric line with ${fragment}`);
    await sleep(20);
  }
}
