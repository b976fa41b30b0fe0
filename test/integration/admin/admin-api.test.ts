import type { Server } from "node:http";
import { Worker, type Job } from "bullmq";
import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { z } from "zod";
import { BULL_BOARD_PATH, ROUTE_DOCS } from "../../../src/admin/api/spec.js";
import { installationsResponseSchema } from "../../../src/admin/api/installations.js";
import { ADMIN_DISABLED_MESSAGE, createAdminHandler, type AdminHandler } from "../../../src/admin/handler.js";
import { compileTemplate } from "../../../src/admin/api/routing.js";
import {
  drainResponseSchema,
  errorSchema,
  jobsPageSchema,
  jobViewSchema,
  overviewSchema,
  poolsResponseSchema,
  poolViewSchema,
  queueCountsSchema,
  runnerDetailSchema,
  runnersResponseSchema,
} from "../../../src/admin/schemas.js";
import { runnerContainerSpec } from "../../../src/docker/runner-spec.js";
import { createHttpServer, listen } from "../../../src/http/server.js";
import { createLogger } from "../../../src/observability/logger.js";
import {
  PROVISION_QUEUE,
  provisionJobId,
  type ProvisionRequest,
  type StopRunnerRequest,
} from "../../../src/queue/jobs.js";
import type { RunnerRecord } from "../../../src/state/runner-store.js";
import { waitFor } from "../../sim/github-simulator.js";
import {
  adminDeps,
  GITHUB_API,
  type ServiceContext,
  provisionRequest,
  runnerRecord,
  serviceContext,
  testPool,
} from "../support/context.js";
import { Heartbeats } from "../../../src/state/heartbeats.js";

const TOKEN = "admin-token-for-integration-0123";
const ENGINE = "admin-engine";

let ctx: ServiceContext;
let server: Server;
let handler: AdminHandler;
let disabledServer: Server;
let base: string;
let disabledBase: string;
const logLines: string[] = [];

const pools = () => [
  testPool({ name: "linux", maxRunners: 5, warmScope: "acme" }),
  testPool({ name: "gpu", labels: ["self-hosted", "linux", "gpu"], maxRunners: 2 }),
];

interface Call {
  method: string;
  path: string;
  status: number;
}
const calls: Call[] = [];

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

async function call(
  method: string,
  path: string,
  options: {
    token?: string | null;
    body?: string | object;
    basic?: string;
    on?: string;
    headers?: Record<string, string>;
    form?: Record<string, string>;
  } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? TOKEN : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (options.basic !== undefined)
    headers.authorization = `Basic ${Buffer.from(`admin:${options.basic}`).toString("base64")}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
    headers["content-type"] = "application/json";
  }
  if (options.form !== undefined) {
    body = new URLSearchParams(options.form).toString();
    headers["content-type"] = "application/x-www-form-urlencoded";
  }
  // Redirects are what the login flow answers; the tests look at them instead of following.
  const response = await fetch(`${options.on ?? base}${path}`, { method, headers, body, redirect: "manual" });
  const text = await response.text();
  calls.push({ method, path: new URL(path, "http://x").pathname, status: response.status });
  let json: unknown;
  try {
    json = text === "" ? undefined : (JSON.parse(text) as unknown);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

function expectShape<S extends z.ZodType>(answer: Answer, status: number, schema: S): z.output<S> {
  expect(answer.status, answer.text).toBe(status);
  return schema.parse(answer.json);
}

function expectError(answer: Answer, status: number, fields: string[] = []): z.output<typeof errorSchema> {
  const body = expectShape(answer, status, errorSchema);
  for (const field of fields)
    expect(
      body.details?.map((d) => d.field),
      answer.text,
    ).toContain(field);
  return body;
}

/** One concrete path per documented route (parameters filled with placeholders). */
const concretePaths = [
  ...Object.values(ROUTE_DOCS).map((route) => ({
    method: route.method as string,
    path: route.template.replace(/\{[^}]+\}/g, "x"),
  })),
  { method: "GET", path: BULL_BOARD_PATH },
  { method: "GET", path: `${BULL_BOARD_PATH}/api/queues` },
];

let seq = 0;
async function putRunner(fields: Partial<RunnerRecord> = {}): Promise<RunnerRecord> {
  seq += 1;
  const record: RunnerRecord = {
    name: `adm-${process.pid}-${seq}`,
    pool: "linux",
    engine: ENGINE,
    installationId: 7,
    scope: { kind: "org", org: "acme" },
    githubJobId: 5000 + seq,
    runnerId: 900 + seq,
    containerId: undefined,
    state: "idle",
    busyJobId: undefined,
    createdAt: Date.now(),
    completedAt: undefined,
    ...fields,
  };
  await ctx.runners.put(record);
  return record;
}

async function stopEntries(): Promise<StopRunnerRequest[]> {
  const jobs = await ctx.queues.runnerOps(ENGINE).getJobs(["waiting", "delayed"]);
  return jobs.map((job) => job.data);
}

function githubDelete(runnerId: number, status: number) {
  return nock(GITHUB_API)
    .post("/app/installations/7/access_tokens")
    .optionally()
    .reply(201, { token: "ghs_t", expires_at: new Date(Date.now() + 3600_000).toISOString() })
    .delete(`/orgs/acme/actions/runners/${runnerId}`)
    .reply(status, status >= 400 ? { message: "Bad request - Runner is currently running a job" } : undefined);
}

beforeAll(async () => {
  ctx = await serviceContext();
  nock.disableNetConnect();
  nock.enableNetConnect((host) => host.startsWith("127.0.0.1") || host.startsWith("localhost"));
  const log = createLogger("debug", { write: (line: string) => void logLines.push(line) });
  const deps = adminDeps(ctx, { pools: pools(), log });
  handler = await createAdminHandler({ ...deps, adminToken: TOKEN });
  server = createHttpServer([handler], log);
  base = `http://127.0.0.1:${await listen(server, "127.0.0.1", 0)}`;
  disabledServer = createHttpServer([await createAdminHandler({ ...deps, adminToken: undefined })], log);
  disabledBase = `http://127.0.0.1:${await listen(disabledServer, "127.0.0.1", 0)}`;
});

afterEach(() => {
  nock.cleanAll();
});

afterAll(async () => {
  nock.enableNetConnect();
  await handler?.stop();
  for (const open of [server, disabledServer]) {
    if (!open) continue;
    await new Promise<void>((resolve) => open.close(() => resolve()));
    open.closeAllConnections();
  }
  await ctx?.close();
});

describe("access", () => {
  it("answers 503 on every route when ADMIN_TOKEN is not set", async () => {
    for (const { method, path } of concretePaths) {
      const answer = await call(method, path, { on: disabledBase });
      expect(expectError(answer, 503).error, `${method} ${path}`).toBe(ADMIN_DISABLED_MESSAGE);
    }
  });

  it("refuses every route without a token and with a wrong one (401, WWW-Authenticate: Bearer)", async () => {
    for (const { method, path } of concretePaths) {
      for (const token of [null, "wrong", `${TOKEN.slice(0, -1)}X`, `${TOKEN}${TOKEN}`]) {
        const answer = await call(method, path, { token });
        expectError(answer, 401);
        expect(answer.headers.get("www-authenticate"), `${method} ${path}`).toMatch(/^Bearer /);
        expect(answer.text).not.toContain(TOKEN);
      }
    }
  });

  it("does not accept HTTP Basic (browsers log in once instead)", async () => {
    expectError(await call("GET", "/admin/pools", { basic: TOKEN }), 401);
    expectError(await call("GET", BULL_BOARD_PATH, { basic: TOKEN }), 401);
  });

  it("leaves other paths to the next handler", async () => {
    const answer = await call("GET", "/adminx");
    expect(answer.status).toBe(404);
    expect(answer.json).toEqual({ error: "not found", path: "/adminx" });
  });

  it("answers 404 for unknown admin routes and 405 with Allow for a wrong method", async () => {
    expectError(await call("GET", "/admin/nothing"), 404);
    const answer = await call("PUT", "/admin/pools/linux");
    expectError(answer, 405);
    // GET /admin/pools/{name} shows one pool (its fair share among other things).
    expect(answer.headers.get("allow")).toBe("GET, PATCH");
  });
});

describe("pools", () => {
  it("shows each pool's effective limits and its runner and queue counts", async () => {
    await putRunner({ state: "starting" });
    await putRunner({ state: "idle" });
    await putRunner({ state: "busy", busyJobId: 1 });
    await putRunner({ pool: "gpu", state: "busy", busyJobId: 2 });
    for (const request of [provisionRequest(101), provisionRequest(102), provisionRequest(103, { pool: "gpu" })]) {
      await ctx.ledger.queued(request);
    }
    await ctx.queues.provision.add("provision", provisionRequest(101), { jobId: provisionJobId(101) });
    await ctx.queues.provision.add("provision", provisionRequest(102), { jobId: provisionJobId(102) });
    await ctx.queues.provision.add("provision", provisionRequest(103, { pool: "gpu" }), {
      jobId: provisionJobId(103),
      delay: 60_000,
    });
    const now = Date.now();
    await ctx.slots
      .forEngine({ name: ENGINE, capacity: undefined }, 600_000)
      .reserve({ name: "gpu", maxRunners: 2 }, "held-1");
    await ctx.slots.park("pool", "gpu", provisionJobId(103), now);

    const { pools: shown } = expectShape(await call("GET", "/admin/pools"), 200, poolsResponseSchema);
    expect(shown.map((pool) => pool.name)).toEqual(["linux", "gpu"]);
    const [linux, gpu] = shown;
    expect(linux).toMatchObject({
      labels: ["self-hosted", "linux"],
      image: pools()[0]?.image,
      limits: { maxRunners: 5, minIdle: 0, idleTimeoutMs: 600_000, maxLifetimeMs: 21_600_000 },
      overrides: {},
      counts: { starting: 1, idle: 1, busy: 1, waiting: 2, slotsHeld: 0, parked: 0 },
    });
    expect(gpu?.counts).toEqual({ starting: 0, idle: 0, busy: 1, waiting: 1, slotsHeld: 1, parked: 1 });
  });

  it("applies a PATCH at once: in GET, in the overrides every process reads, and in the next reservation", async () => {
    const patched = expectShape(
      await call("PATCH", "/admin/pools/linux", { body: { maxRunners: 1, idleTimeout: "90s" } }),
      200,
      poolViewSchema,
    );
    expect(patched.limits).toMatchObject({ maxRunners: 1, idleTimeoutMs: 90_000 });
    expect(patched.overrides).toEqual({ maxRunners: 1, idleTimeout: "90s" });

    const { pools: shown } = expectShape(await call("GET", "/admin/pools"), 200, poolsResponseSchema);
    expect(shown[0]).toEqual(patched);
    const effective = await ctx.overrides.effective(pools());
    expect(effective[0]).toMatchObject({ name: "linux", maxRunners: 1, idleTimeout: 90_000 });

    const reserve = (runner: string) =>
      ctx.slots
        .forEngine({ name: ENGINE, capacity: undefined }, 600_000)
        .reserve({ name: "linux", maxRunners: 5 }, runner);
    expect(await reserve("first")).toBe("ok");
    expect(await reserve("second")).toBe("pool-full");

    const merged = expectShape(
      await call("PATCH", "/admin/pools/linux", { body: { minIdle: 1 } }),
      200,
      poolViewSchema,
    );
    expect(merged.overrides).toEqual({ maxRunners: 1, idleTimeout: "90s", minIdle: 1 });
    expect(logLines.some((line) => line.includes('"pool limits changed"'))).toBe(true);
  });

  it("wakes parked demand when a raised limit makes room", async () => {
    await ctx.slots
      .forEngine({ name: ENGINE, capacity: undefined }, 600_000)
      .reserve({ name: "gpu", maxRunners: 2 }, "held-2");
    expect(await (await ctx.queues.provision.getJob(provisionJobId(103)))?.getState()).toBe("delayed");
    const patched = expectShape(
      await call("PATCH", "/admin/pools/gpu", { body: { maxRunners: 3 } }),
      200,
      poolViewSchema,
    );
    expect(patched.counts).toMatchObject({ slotsHeld: 2, parked: 0 });
    expect(await (await ctx.queues.provision.getJob(provisionJobId(103)))?.getState()).toBe("waiting");
  });

  it("refuses invalid changes with 400 naming each field, and changes nothing", async () => {
    const before = await ctx.overrides.all();
    expectError(await call("PATCH", "/admin/pools/linux", { body: { maxRunners: "ten", colour: "red" } }), 400, [
      "maxRunners",
      "colour",
    ]);
    expectError(await call("PATCH", "/admin/pools/linux", { body: { maxRunners: -1 } }), 400, ["maxRunners"]);
    expectError(await call("PATCH", "/admin/pools/linux", { body: { maxLifetime: "forever" } }), 400, ["maxLifetime"]);
    const tooMany = expectError(await call("PATCH", "/admin/pools/linux", { body: { minIdle: 4 } }), 400, ["minIdle"]);
    expect(tooMany.details?.[0]?.message).toContain("must not exceed maxRunners (1)");
    expectError(await call("PATCH", "/admin/pools/gpu", { body: { minIdle: 1 } }), 400, ["minIdle"]);
    expectError(await call("PATCH", "/admin/pools/linux", { body: "{not json" }), 400, ["body"]);
    expectError(await call("PATCH", "/admin/pools/linux", { body: "[1]" }), 400, ["body"]);
    expectError(await call("PATCH", "/admin/pools/linux", { body: "" }), 400, ["body"]);
    expectError(await call("PATCH", "/admin/pools/linux", { body: { image: "x".repeat(70_000) } }), 413);
    expect(await ctx.overrides.all()).toEqual(before);
  });

  it("answers 404 for an unknown pool", async () => {
    expect(expectError(await call("PATCH", "/admin/pools/nope", { body: { maxRunners: 1 } }), 404).error).toContain(
      'no pool named "nope"',
    );
  });

  it("shows a crash-looping pool with its last runner's lines, and a reset ends it and wakes its deferred demand", async () => {
    const [linux] = pools();
    if (!linux) throw new Error("no linux pool");
    const crashed = await putRunner();
    await ctx.runners.retire(
      crashed.name,
      { exitedAt: Date.now(), exitCode: 2, oomKilled: false, reason: "crashed" },
      "starting\ncannot configure the runner\n",
    );
    for (let crash = 0; crash < 3; crash++) {
      await ctx.crashLoops.recordCrash(linux, {
        runnerName: crashed.name,
        exitCode: 2,
        reason: "crashed",
        at: Date.now(),
      });
    }
    const deferred = await ctx.queues.provision.add("provision", provisionRequest(201), {
      jobId: provisionJobId(201),
      delay: 60_000,
    });
    const { pools: shown } = expectShape(await call("GET", "/admin/pools"), 200, poolsResponseSchema);
    expect(shown[0]).toMatchObject({
      health: "crash-looping",
      crashLoop: {
        crashes: 3,
        backoffs: 1,
        lastRunner: crashed.name,
        lastExitCode: 2,
        lastReason: "crashed",
        lastLines: "starting\ncannot configure the runner",
      },
    });
    expect(shown[1]).toMatchObject({ health: "ok", crashLoop: null });

    const reset = expectShape(await call("DELETE", "/admin/pools/linux/crash-loop"), 200, poolViewSchema);
    expect(reset).toMatchObject({ name: "linux", health: "ok", crashLoop: null });
    expect(await ctx.crashLoops.get("linux")).toBeUndefined();
    expect(await deferred.getState()).toBe("waiting");
    await deferred.remove();
    expectError(await call("DELETE", "/admin/pools/nope/crash-loop"), 404);
  });
});

describe("installations", () => {
  it("shows each installation's own GitHub budget and pause, and its live runners", async () => {
    await putRunner({ installationId: 8, scope: { kind: "org", org: "globex" }, state: "busy" });
    await ctx.newBudget().pause("8", 60_000);
    const { installations } = expectShape(await call("GET", "/admin/installations"), 200, installationsResponseSchema);
    const of = (name: string) => installations.find((view) => view.installation === name);
    expect(of("8")?.budget.pausedForMs).toBeGreaterThan(50_000);
    expect(of("8")?.budget.points).toBeLessThanOrEqual(0);
    expect(of("8")?.runners.busy).toBe(1);
    // Installation 7 and the app's JWT go on with their whole buckets.
    expect(of("7")?.budget).toEqual({ points: 300, burstPoints: 300, pausedForMs: 0, belowFloor: null });
    expect(installations.at(-1)).toMatchObject({ installation: "app", budget: { points: 300, pausedForMs: 0 } });
  });
});

describe("runners", () => {
  it("lists live runners, optionally of one pool", async () => {
    const all = expectShape(await call("GET", "/admin/runners"), 200, runnersResponseSchema).runners;
    expect(all.length).toBeGreaterThanOrEqual(4);
    const gpu = expectShape(await call("GET", "/admin/runners?pool=gpu"), 200, runnersResponseSchema).runners;
    expect(gpu.map((runner) => runner.pool)).toEqual(["gpu"]);
    expect(gpu[0]).toMatchObject({ state: "busy", busyJobId: 2, engine: ENGINE, containerId: null });
    expectError(await call("GET", "/admin/runners?pool="), 400, ["pool"]);
  });

  it("answers 404 for an unknown runner", async () => {
    expectError(await call("DELETE", "/admin/runners/ghost"), 404);
  });

  it("refuses to drain a busy runner without force, and drains it with force", async () => {
    const busy = await putRunner({ state: "busy", busyJobId: 77 });
    const refused = expectError(await call("DELETE", `/admin/runners/${busy.name}`), 409);
    expect(refused.error).toContain("busy on job 77");
    expect((await stopEntries()).filter((entry) => entry.runnerName === busy.name)).toEqual([]);

    const github = githubDelete(busy.runnerId ?? 0, 422);
    const drained = expectShape(
      await call("DELETE", `/admin/runners/${busy.name}?force=true`),
      202,
      drainResponseSchema,
    );
    expect(github.isDone()).toBe(true);
    expect(drained).toMatchObject({
      runner: { name: busy.name },
      stop: { reason: "drained-forced", queue: `runner-ops-${ENGINE}` },
      registrationDeleted: false,
    });
    expect(await stopEntries()).toContainEqual({ runnerName: busy.name, reason: "drained-forced" });
  });

  it("drains an idle runner: GitHub registration first, then a stop on the engine's queue", async () => {
    const idle = await putRunner();
    const github = githubDelete(idle.runnerId ?? 0, 204);
    const drained = expectShape(await call("DELETE", `/admin/runners/${idle.name}`), 202, drainResponseSchema);
    expect(github.isDone()).toBe(true);
    expect(drained).toMatchObject({ stop: { reason: "drained" }, registrationDeleted: true });
    expect(await stopEntries()).toContainEqual({ runnerName: idle.name, reason: "drained" });
  });

  it("drains a runner GitHub never registered without asking GitHub", async () => {
    const starting = await putRunner({ state: "starting", runnerId: undefined });
    expectShape(await call("DELETE", `/admin/runners/${starting.name}`), 202, drainResponseSchema);
    expect(await stopEntries()).toContainEqual({ runnerName: starting.name, reason: "drained" });
  });

  it("answers 409 when GitHub says the runner just turned busy, and 502 when GitHub refuses otherwise", async () => {
    const racing = await putRunner();
    githubDelete(racing.runnerId ?? 0, 422);
    expect(expectError(await call("DELETE", `/admin/runners/${racing.name}`), 409).error).toContain("just taken a job");
    githubDelete(racing.runnerId ?? 0, 403);
    expectError(await call("DELETE", `/admin/runners/${racing.name}`), 502);
    expect((await stopEntries()).filter((entry) => entry.runnerName === racing.name)).toEqual([]);
  });

  it("shows one runner, live or exited with its exit, usage and kept log lines", async () => {
    const live = await putRunner({ state: "busy", busyJobId: 3, usage: { peakMemoryBytes: 1024, cpuSeconds: 0.5 } });
    const shown = expectShape(await call("GET", `/admin/runners/${live.name}`), 200, runnerDetailSchema);
    expect(shown).toMatchObject({ name: live.name, state: "busy", exit: null, logs: null, usage: { cpuSeconds: 0.5 } });

    const gone = await putRunner({ state: "busy", busyJobId: 4 });
    await ctx.runners.retire(
      gone.name,
      {
        exitedAt: 1234,
        exitCode: 137,
        oomKilled: true,
        reason: "oom-killed",
        usage: { peakMemoryBytes: 9, cpuSeconds: 1 },
      },
      "last words\n",
    );
    const exited = expectShape(await call("GET", `/admin/runners/${gone.name}`), 200, runnerDetailSchema);
    expect(exited).toMatchObject({
      state: "exited",
      busyJobId: 4,
      exit: { at: 1234, exitCode: 137, oomKilled: true, reason: "oom-killed" },
      usage: { peakMemoryBytes: 9, cpuSeconds: 1 },
      logs: "last words\n",
    });
    const logs = await call("GET", `/admin/runners/${gone.name}/logs?follow=true`);
    expect(logs.status).toBe(200);
    expect(logs.headers.get("content-type")).toContain("text/plain");
    expect(logs.text).toBe("last words\n");

    expectError(await call("GET", "/admin/runners/ghost"), 404);
    expectError(await call("GET", "/admin/runners/ghost/logs"), 404);
    expectError(await call("GET", `/admin/runners/${gone.name}/logs?follow=yes`), 400, ["follow"]);
  });

  it("answers 409 for live logs it cannot read: no container yet, or another engine's runner", async () => {
    const starting = await putRunner({ state: "starting", engine: ctx.engine.name });
    expect(expectError(await call("GET", `/admin/runners/${starting.name}/logs`), 409).error).toContain(
      "no container yet",
    );
    const elsewhere = await putRunner({ containerId: "abc" });
    expect(expectError(await call("GET", `/admin/runners/${elsewhere.name}/logs`), 409).error).toContain(
      `runs on engine "${ENGINE}"`,
    );
  });

  it("reads a running container's logs, masked, and follows them until it ends", async () => {
    const secret = "ghs_16C7e42F292c6912E7710c838347Ae178B4a";
    const jitConfig = Buffer.from(`jit config ${"y".repeat(80)} for the runner`).toString("base64");
    const name = `adm-logs-${process.pid}`;
    const containerId = await ctx.engine.startContainer(
      runnerContainerSpec({
        name,
        pool: testPool({
          command: [
            "sh",
            "-c",
            `trap 'echo bye; exit 0' USR1; echo "hello $ACTIONS_RUNNER_INPUT_JITCONFIG"; echo ${secret} >&2; while true; do sleep 0.1; done`,
          ],
        }),
        runnerId: undefined,
        githubJobId: 1,
        owner: "acme",
        installationId: 7,
        registrationEnv: { ACTIONS_RUNNER_INPUT_JITCONFIG: jitConfig },
      }),
    );
    await putRunner({ name, engine: ctx.engine.name, containerId, state: "busy", busyJobId: 1 });
    const first = await waitFor(
      async () => {
        const answer = await call("GET", `/admin/runners/${name}/logs`);
        return answer.text.includes("hello ***") && answer.text.split("\n").length > 2 ? answer : undefined;
      },
      { timeoutMs: 10_000, what: "the container's first lines" },
    );
    expect(first.status).toBe(200);
    expect(first.text).toContain("hello ***\n");
    expect(first.text).not.toContain(jitConfig);

    const followed = call("GET", `/admin/runners/${name}/logs?follow=true`);
    // The answer ends when the container does; a container that ends first is answered all the same.
    await ctx.docker.getContainer(containerId).kill({ signal: "USR1" });
    const answer = await followed;
    expect(answer.status).toBe(200);
    expect(answer.text).toContain("hello ***\n");
    expect(answer.text).toContain("***\n");
    expect(answer.text.endsWith("bye\n")).toBe(true);
    expect(answer.text).not.toContain(secret);
    expect(answer.text).not.toContain(jitConfig);
  });

  it("refuses a force value that is not true or false", async () => {
    expectError(await call("DELETE", "/admin/runners/x?force=yes"), 400, ["force"]);
  });
});

describe("provision queue inspection", () => {
  let worker: Worker<ProvisionRequest> | undefined;
  let release: () => void = () => undefined;
  const hold = new Promise<void>((resolve) => {
    release = resolve;
  });

  afterAll(async () => {
    release();
    await worker?.close();
  });

  const stateOf = async (id: string) => (await ctx.queues.provision.getJob(id))?.getState();
  const add = (githubJobId: number, repo: string, options: { delay?: number } = {}) =>
    ctx.queues.provision.add("provision", provisionRequest(githubJobId, { repo }), {
      jobId: provisionJobId(githubJobId),
      attempts: 1,
      ...options,
    });

  it("shows counts, pages and single entries of real BullMQ jobs", async () => {
    await ctx.queues.provision.obliterate({ force: true });
    worker = new Worker<ProvisionRequest>(
      PROVISION_QUEUE,
      async (job: Job<ProvisionRequest>) => {
        if (job.data.repo === "fails") throw new Error("boom: no runner for you");
        if (job.data.repo === "hangs") await hold;
      },
      { connection: ctx.redis, prefix: ctx.prefix, concurrency: 1 },
    );
    await add(201, "fails");
    await waitFor(async () => (await stateOf("job-201")) === "failed", { timeoutMs: 10_000, what: "job-201 failed" });
    await add(202, "works");
    await waitFor(async () => (await stateOf("job-202")) === "completed", {
      timeoutMs: 10_000,
      what: "job-202 completed",
    });
    await add(203, "hangs");
    await waitFor(async () => (await stateOf("job-203")) === "active", { timeoutMs: 10_000, what: "job-203 active" });
    await add(204, "waits");
    for (const id of [205, 206, 207]) await add(id, "later", { delay: 600_000 });

    const counts = expectShape(await call("GET", "/admin/queue"), 200, queueCountsSchema);
    expect(counts).toEqual({
      queue: "provision",
      counts: { waiting: 1, delayed: 3, active: 1, completed: 1, failed: 1 },
    });

    const failed = expectShape(await call("GET", "/admin/queue/jobs?state=failed"), 200, jobsPageSchema);
    expect(failed).toMatchObject({ state: "failed", page: 1, perPage: 50, total: 1, pages: 1 });
    expect(failed.jobs[0]).toMatchObject({
      id: "job-201",
      name: "provision",
      state: "failed",
      attemptsMade: 1,
      failedReason: "boom: no runner for you",
      data: { githubJobId: 201, repo: "fails", pool: "linux" },
    });
    expect(failed.jobs[0]?.processedOn).toEqual(expect.any(Number));
    expect(failed.jobs[0]?.finishedOn).toEqual(expect.any(Number));

    const page1 = expectShape(await call("GET", "/admin/queue/jobs?state=delayed&perPage=2"), 200, jobsPageSchema);
    const page2 = expectShape(
      await call("GET", "/admin/queue/jobs?state=delayed&perPage=2&page=2"),
      200,
      jobsPageSchema,
    );
    expect(page1).toMatchObject({ total: 3, pages: 2, perPage: 2 });
    expect(page1.jobs).toHaveLength(2);
    expect(page2.jobs).toHaveLength(1);
    expect(new Set([...page1.jobs, ...page2.jobs].map((job) => job.id))).toEqual(
      new Set(["job-205", "job-206", "job-207"]),
    );
    const beyond = expectShape(
      await call("GET", "/admin/queue/jobs?state=delayed&perPage=2&page=9"),
      200,
      jobsPageSchema,
    );
    expect(beyond.jobs).toEqual([]);

    const active = expectShape(await call("GET", "/admin/queue/jobs/job-203"), 200, jobViewSchema);
    expect(active).toMatchObject({ id: "job-203", state: "active", failedReason: null, finishedOn: null });
    expectError(await call("GET", "/admin/queue/jobs/job-999"), 404);
  });

  it("refuses bad listing queries naming the field", async () => {
    expectError(await call("GET", "/admin/queue/jobs"), 400, ["state"]);
    expectError(await call("GET", "/admin/queue/jobs?state=sleeping"), 400, ["state"]);
    expectError(await call("GET", "/admin/queue/jobs?state=failed&perPage=0"), 400, ["perPage"]);
    expectError(await call("GET", "/admin/queue/jobs?state=failed&perPage=500"), 400, ["perPage"]);
    expectError(await call("GET", "/admin/queue/jobs?state=failed&page=one"), 400, ["page"]);
  });

  it("retries only failed entries", async () => {
    expect(expectError(await call("POST", "/admin/queue/jobs/job-202/retry"), 409).error).toContain("completed");
    const retried = expectShape(await call("POST", "/admin/queue/jobs/job-201/retry"), 200, jobViewSchema);
    expect(retried).toMatchObject({ id: "job-201", state: "waiting", failedReason: null });
    expect(await stateOf("job-201")).toBe("waiting");
    expectError(await call("POST", "/admin/queue/jobs/job-999/retry"), 404);
  });

  it("removes entries no worker runs, never an active one", async () => {
    expect(expectError(await call("DELETE", "/admin/queue/jobs/job-203"), 409).error).toContain("being provisioned");
    const removed = await call("DELETE", "/admin/queue/jobs/job-205");
    expect(removed.status).toBe(204);
    expect(removed.text).toBe("");
    expect(await ctx.queues.provision.getJob("job-205")).toBeUndefined();
    expectError(await call("GET", "/admin/queue/jobs/job-205"), 404);
    expectError(await call("DELETE", "/admin/queue/jobs/job-205"), 404);
  });
});

describe("Bull Board dashboard", () => {
  it("is refused without the token; a browser is sent to the login form", async () => {
    const answer = await call("GET", BULL_BOARD_PATH, { token: null });
    expectError(answer, 401);
    expect(answer.headers.get("www-authenticate")).toMatch(/^Bearer /);
    const browser = await call("GET", `${BULL_BOARD_PATH}?x=1`, { token: null, headers: { accept: "text/html" } });
    expect(browser.status).toBe(303);
    expect(browser.headers.get("location")).toBe(`/admin/login?next=${encodeURIComponent(`${BULL_BOARD_PATH}?x=1`)}`);
  });

  it("serves the UI, its assets and its API with the token", async () => {
    const page = await call("GET", BULL_BOARD_PATH);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(page.text).toContain('<base href="/admin/queues/"');
    expect(page.text).toContain("<title>runnerhub</title>");
    expect(page.headers.get("x-powered-by")).toBeNull();

    const script = /src="(static\/js\/main\.[^"]+\.js)"/.exec(page.text)?.[1];
    expect(script).toBeDefined();
    const asset = await call("GET", `${BULL_BOARD_PATH}/${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-type")).toContain("javascript");

    const api = await call("GET", `${BULL_BOARD_PATH}/api/queues`);
    expect(api.status).toBe(200);
    const names = (api.json as { queues: { name: string }[] }).queues.map((queue) => queue.name);
    expect(names).toEqual(expect.arrayContaining(["provision", "oom-rerun", `runner-ops-${ENGINE}`]));
    expectError(await call("GET", `${BULL_BOARD_PATH}/no/such/page`), 404);
  });
});

/** Markup with its layout whitespace taken out, so assertions read like the elements they look for. */
const flat = (markup: string) =>
  markup
    .replace(/\s+/g, " ")
    .replace(/>\s+</g, "><")
    .replace(/\s*\/?>/g, ">");

/** Logs in through the form and returns the cookie a browser would send back. */
async function logIn(): Promise<string> {
  const answer = await call("POST", "/admin/login", { token: null, form: { token: TOKEN, next: "/admin/queues" } });
  expect(answer.status).toBe(303);
  expect(answer.headers.get("location")).toBe("/admin/queues");
  const setCookie = answer.headers.get("set-cookie") ?? "";
  expect(setCookie).toMatch(/^runnerhub_session=[^;]+; Path=\/admin; HttpOnly; SameSite=Strict; Max-Age=43200$/);
  expect(setCookie).not.toContain(TOKEN);
  return setCookie.split(";")[0] ?? "";
}

/** Reads server-sent events until `done` says enough, then closes the stream. */
async function readEvents(
  headers: Record<string, string>,
  done: (events: { event: string; data: string }[]) => boolean,
): Promise<{ event: string; data: string }[]> {
  const controller = new AbortController();
  const response = await fetch(`${base}/admin/events`, { headers, signal: controller.signal });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
  calls.push({ method: "GET", path: "/admin/events", status: response.status });
  const events: { event: string; data: string }[] = [];
  const decoder = new TextDecoder();
  let buffer = "";
  const reader = response.body?.getReader();
  if (!reader) throw new Error("no body");
  try {
    while (!done(events)) {
      const { value, done: ended } = await reader.read();
      if (ended) throw new Error(`stream ended after ${events.length} events`);
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event !== undefined && data !== undefined) events.push({ event, data });
      }
    }
  } finally {
    controller.abort();
  }
  return events;
}

describe("the dashboard", () => {
  const html = { accept: "text/html,application/xhtml+xml" };

  afterEach(async () => {
    await ctx.flushPrefix();
  });

  it("serves the login form to anyone and sends browsers without a session to it", async () => {
    const form = await call("GET", "/admin/login?next=/admin/queues", { token: null, headers: html });
    expect(form.status).toBe(200);
    expect(form.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(form.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(flat(form.text)).toContain('<input type="hidden" name="next" value="/admin/queues">');
    const page = await call("GET", "/admin", { token: null, headers: html });
    expect(page.status).toBe(303);
    expect(page.headers.get("location")).toBe("/admin/login?next=%2Fadmin");
    expectError(await call("GET", "/admin", { token: null }), 401);
    expectError(await call("GET", "/admin/events", { token: null }), 401);
  });

  it("refuses a wrong token with the form again (401) and sets no cookie", async () => {
    for (const token of ["wrong", `${TOKEN}x`, ""]) {
      const answer = await call("POST", "/admin/login", { token: null, form: { token, next: "/admin" } });
      expect(answer.status).toBe(401);
      expect(answer.headers.get("set-cookie")).toBeNull();
      expect(answer.text).toContain('role="alert"');
      expect(answer.text).toContain(token === "" ? "Enter the admin token." : "Wrong admin token.");
    }
  });

  it("never sends a login anywhere but the admin area", async () => {
    for (const next of ["https://evil.example/", "//evil.example/admin", "/adminx", "/\\evil"]) {
      const answer = await call("POST", "/admin/login", { token: null, form: { token: TOKEN, next } });
      expect(answer.headers.get("location"), next).toBe("/admin");
    }
  });

  it("opens pages, the overview and Bull Board with the session cookie, but no writes", async () => {
    const cookie = await logIn();
    const page = await call("GET", "/admin", { token: null, headers: { ...html, cookie } });
    expect(page.status).toBe(200);
    expect(page.text).toContain('<tr data-pool="linux" data-health="ok">');
    expect(page.text).toContain('<tr data-pool="gpu" data-health="ok">');
    expect(page.text).toContain('href="/admin/queues"');
    expect((await call("GET", "/admin/overview", { token: null, headers: { cookie } })).status).toBe(200);
    expect((await call("GET", `${BULL_BOARD_PATH}/api/queues`, { token: null, headers: { cookie } })).status).toBe(200);
    expectError(
      await call("PATCH", "/admin/pools/linux", { token: null, headers: { cookie }, body: { maxRunners: 1 } }),
      401,
    );
    const forged = cookie.replace(/.$/, (last) => (last === "A" ? "B" : "A"));
    expectError(await call("GET", "/admin/overview", { token: null, headers: { cookie: forged } }), 401);

    const out = await call("POST", "/admin/logout", { token: null, headers: { cookie } });
    expect(out.status).toBe(303);
    expect(out.headers.get("location")).toBe("/admin/login");
    expect(out.headers.get("set-cookie")).toMatch(/^runnerhub_session=; .*Max-Age=0/);
    const again = await call("GET", "/admin/login", { token: null, headers: { ...html, cookie } });
    expect(again.status).toBe(303);
  });

  it("shows runners and the timeline in the overview, and escapes what it shows", async () => {
    await ctx.runners.put(
      runnerRecord("linux-live1", { engine: ENGINE, state: "busy", busyJobId: 41, repository: "acme/<b>app</b>" }),
    );
    await ctx.feed.record({ kind: "queued", pool: "linux", jobId: 41, repository: "acme/<b>app</b>" });
    await ctx.feed.record({ kind: "took-job", pool: "linux", runnerName: "linux-live1", jobId: 41 });
    const overview = expectShape(await call("GET", "/admin/overview"), 200, overviewSchema);
    expect(overview.runners.map((runner) => [runner.name, runner.state, runner.repository])).toEqual([
      ["linux-live1", "busy", "acme/<b>app</b>"],
    ]);
    // This process works on ctx.engine (pinged); ENGINE is only known from a runner's record until it beats.
    // Neither engine's worker published a placement profile (labels, memory, CPUs).
    const unplaced = { labels: [], draining: false, memory: null, cpus: null };
    expect(overview.engines).toEqual([
      { name: ENGINE, starting: 0, idle: 0, busy: 1, capacity: null, health: "unknown", lastBeatMs: null, ...unplaced },
      {
        name: ctx.engine.name,
        starting: 0,
        idle: 0,
        busy: 0,
        capacity: "unlimited",
        health: "ok",
        lastBeatMs: null,
        ...unplaced,
      },
    ]);
    await new Heartbeats(ctx.store).beat(ENGINE, "engine-id", 30_000);
    const beaten = expectShape(await call("GET", "/admin/overview"), 200, overviewSchema);
    expect(beaten.engines[0]).toMatchObject({ name: ENGINE, health: "ok" });
    expect(beaten.engines[0]?.lastBeatMs).toBeLessThan(30_000);
    expect(overview.events.map((event) => event.kind)).toEqual(["took-job", "queued"]);
    expect(overview.pools.find((pool) => pool.name === "linux")?.counts.busy).toBe(1);

    const page = await call("GET", "/admin", { headers: html });
    expect(page.text).toContain("acme/&lt;b&gt;app&lt;/b&gt;");
    expect(page.text).not.toContain("<b>app</b>");
  });

  it("streams the sections at once and again when something happens", async () => {
    const events = await readEvents({ authorization: `Bearer ${TOKEN}` }, (seen) => {
      if (seen.length === 1) {
        void ctx.feed.record({ kind: "runner-created", pool: "gpu", runnerName: "gpu-new1", jobId: 7 });
      }
      return seen.length >= 2;
    });
    expect(events.map((event) => event.event)).toEqual(["sections", "sections"]);
    const [first, second] = events.map((event) => JSON.parse(event.data) as Record<string, string>);
    expect(Object.keys(first ?? {})).toEqual(["pools", "engines", "queue", "runners", "events"]);
    expect(first?.events).toContain("Nothing happened yet.");
    expect(second?.events).toContain('data-runner="gpu-new1"');
  });

  it("shows a runner's page to a browser, live or exited", async () => {
    await ctx.runners.put(runnerRecord("linux-gone1", { engine: ENGINE, runnerId: 5, repository: "acme/app" }));
    await ctx.runners.retire("linux-gone1", {
      exitedAt: Date.now(),
      exitCode: 137,
      oomKilled: true,
      reason: "oom-killed",
    });
    await ctx.feed.record({ kind: "oom-killed", pool: "linux", runnerName: "linux-gone1", reason: "oom-killed" });
    const page = await call("GET", "/admin/runners/linux-gone1", { headers: html });
    expect(page.status).toBe(200);
    expect(flat(page.text)).toContain("<dt>Exit code</dt><dd>137</dd>");
    expect(flat(page.text)).toContain("<dt>OOM-killed</dt><dd>yes</dd>");
    expect(page.text).toContain('data-kind="oom-killed"');
    const missing = await call("GET", "/admin/runners/nobody", { headers: html });
    expect(missing.status).toBe(404);
    expect(flat(missing.text)).toContain("No runner named <code>nobody</code>");
  });
});

describe("the OpenAPI description", () => {
  type Operation = { responses: Record<string, unknown> };
  let spec: { openapi: string; paths: Record<string, Record<string, Operation>> };

  beforeAll(async () => {
    const answer = await call("GET", "/admin/openapi.json");
    expect(answer.status).toBe(200);
    spec = answer.json as typeof spec;
  });

  function operationFor(method: string, path: string): Operation | undefined {
    for (const [template, operations] of Object.entries(spec.paths)) {
      if (compileTemplate(template).pattern.test(path)) return operations[method.toLowerCase()];
    }
    return undefined;
  }

  it("describes every route the handler serves", () => {
    expect(spec.openapi).toBe("3.1.0");
    for (const route of Object.values(ROUTE_DOCS)) {
      expect(
        spec.paths[route.template]?.[route.method.toLowerCase()],
        `${route.method} ${route.template}`,
      ).toBeDefined();
    }
    expect(spec.paths[BULL_BOARD_PATH]?.get).toBeDefined();
  });

  it("documents the status of every answer these tests received, and every route was exercised", () => {
    const exercised = new Set<string>();
    for (const { method, path, status } of calls) {
      if (status === 404 && !operationFor(method, path)) continue;
      if (status === 405) continue;
      if (path.startsWith(`${BULL_BOARD_PATH}/`)) continue;
      const operation = operationFor(method, path);
      expect(operation, `${method} ${path}`).toBeDefined();
      expect(Object.keys(operation?.responses ?? {}), `${method} ${path} answered ${status}`).toContain(String(status));
      for (const [template] of Object.entries(spec.paths)) {
        if (compileTemplate(template).pattern.test(path)) exercised.add(`${method} ${template}`);
      }
    }
    const documented = Object.entries(spec.paths).flatMap(([template, operations]) =>
      Object.keys(operations).map((m) => `${m.toUpperCase()} ${template}`),
    );
    expect([...exercised].sort()).toEqual(documented.sort());
  });

  it("never logged the admin token", () => {
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.filter((line) => line.includes(TOKEN))).toEqual([]);
  });
});
