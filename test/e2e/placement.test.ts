import type Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { LABELS } from "../../src/docker/labels.js";
import { waitFor, type GitHubSimulator, type SimJob } from "../sim/github-simulator.js";
import { buildStubImage } from "../sim/stub-image.js";
import type { AppProcess } from "../support/app-process.js";
import { DockerEngine, dockerClient } from "../support/docker-engine.js";
import { runCli } from "./support/cli.js";
import { followDockerEvents } from "./support/running-count.js";
import { startStack, stubPool, type Stack } from "./support/stack.js";

/**
 * Placement across three engines (issue 19): three dockerds, a worker process each, and two
 * webhook processes on one Redis, webhooks sent to either. Each engine offers runners 1280m, so
 * 20 runners of 64m fit; engine-c alone carries the label gpu. Jobs "hang" until cancelled, so
 * every runner of a phase runs at once and the engine each one started on is the placement's.
 */
const ENGINES = ["engine-a", "engine-b", "engine-c"] as const;
type EngineName = (typeof ENGINES)[number];
const ADMIN_TOKEN = "e2e-admin-token-placement";
const FAST = {
  RUNNERHUB_HEARTBEAT_INTERVAL: "1s",
  RUNNERHUB_HEARTBEAT_TIMEOUT: "5s",
  RUNNERHUB_RECONCILE_INTERVAL: "5s",
  // A GitHub budget no phase can spend (the phases make and delete over 100 registrations in a
  // few minutes): entries put back to wait for a refill would reach the engines out of order, and
  // this file is about where runners go, not about the budget (test/e2e/installations.test.ts is).
  RUNNERHUB_GITHUB_BURST: "100000",
  RUNNERHUB_GITHUB_POINTS_PER_MINUTE: "1000000",
};

let stack: Stack;
let webhook2: AppProcess;
const privateEngines: DockerEngine[] = [];
const workers: AppProcess[] = [];
/** Per engine: runners started (by name), and how many of them ran at once at most. */
const seen = new Map<EngineName, { started: string[]; running: number; peak: number }>();
const streams: { destroy(): void }[] = [];

function pool(name: string, fields: Record<string, unknown> = {}) {
  return stubPool({ name, labels: ["self-hosted", name], maxRunners: 60, ...fields });
}

async function follow(engine: EngineName, docker: Dockerode) {
  const state = { started: [] as string[], running: 0, peak: 0 };
  seen.set(engine, state);
  const filters = { event: ["start", "die"], label: [`${LABELS.managed}=true`] };
  const stream = await followDockerEvents(docker, filters, (event) => {
    // The shared engine may run other stacks' runners; only this stack's pools count.
    if (!(event.Actor.Attributes[LABELS.pool] ?? "").startsWith("pl-")) return;
    if (event.Action === "start") {
      state.started.push(event.Actor.Attributes.name ?? "");
      state.running++;
      state.peak = Math.max(state.peak, state.running);
    } else state.running--;
  });
  streams.push(stream);
}

beforeAll(async () => {
  stack = await startStack({
    pools: [
      pool("pl-spread"),
      pool("pl-pack", { placement: "pack" }),
      pool("pl-gpu", { engines: { labels: ["gpu"] } }),
      pool("pl-tpu", { engines: { labels: ["tpu"] } }),
      pool("pl-big", { resources: { memory: "512m", pids: 128 } }),
    ],
    env: { ...FAST, RUNNERHUB_ROLES: "webhook", ADMIN_TOKEN },
  });
  webhook2 = await stack.addProcess({ RUNNERHUB_ROLES: "webhook" });
  const hosts: string[] = [inject("dockerHost")];
  for (let i = 0; i < 2; i++) {
    const engine = await DockerEngine.start();
    privateEngines.push(engine);
    await buildStubImage(engine.client());
    hosts.push(engine.dockerHost);
  }
  for (const [i, name] of ENGINES.entries()) {
    const host = hosts[i] ?? "";
    await follow(name, dockerClient(host));
    workers.push(
      await stack.addProcess({
        RUNNERHUB_ROLES: "worker",
        DOCKER_HOST: host,
        RUNNERHUB_ENGINE_NAME: name,
        RUNNERHUB_ENGINE_MEMORY: "1280m",
        ...(name === "engine-c" ? { RUNNERHUB_ENGINE_LABELS: "gpu" } : {}),
      }),
    );
  }
}, 180_000);

afterAll(async () => {
  streams.forEach((stream) => stream.destroy());
  await stack?.stop();
  for (const engine of privateEngines) await engine.destroy();
});

/** Queues jobs for a pool, half of the webhooks to each webhook process. */
async function queue(sim: GitHubSimulator, poolName: string, count: number, behavior: SimJob["behavior"]) {
  const jobs: SimJob[] = [];
  for (const [i, url] of [stack.app.url, webhook2.url].entries()) {
    sim.setWebhookUrl(`${url}/api/github/webhooks`);
    const half = i === 0 ? Math.ceil(count / 2) : Math.floor(count / 2);
    for (let n = 0; n < half; n++) {
      jobs.push(await sim.queueJob({ owner: "acme", repo: "app", labels: ["self-hosted", poolName], behavior }));
    }
  }
  return jobs;
}

function engineOf(runnerName: string | null | undefined): EngineName | undefined {
  return ENGINES.find((engine) => seen.get(engine)?.started.includes(runnerName ?? ""));
}

function startedPer(jobs: readonly SimJob[]): Record<EngineName, number> {
  const counts = { "engine-a": 0, "engine-b": 0, "engine-c": 0 };
  for (const job of jobs) {
    const engine = engineOf(stack.sim.getJob(job.id)?.runnerName);
    if (engine) counts[engine]++;
  }
  return counts;
}

function logsOnFailure(error: unknown): never {
  const tail = workers.map((worker, i) => `--- ${ENGINES[i]}\n${worker.logs().slice(-15).join("\n")}`).join("\n");
  throw new Error(`${(error as Error).message}\n${tail}`);
}

async function allRunning(jobs: readonly SimJob[], what: string, timeoutMs = 90_000) {
  await waitFor(
    () =>
      jobs.every(
        (job) => stack.sim.getJob(job.id)?.status === "in_progress" && engineOf(stack.sim.getJob(job.id)?.runnerName),
      ),
    {
      timeoutMs,
      what,
    },
  ).catch(logsOnFailure);
}

/** Cancels the jobs and waits until no runner of this stack runs on any engine and no slot is held. */
async function cancelAll(jobs: readonly SimJob[]) {
  for (const job of jobs) if (stack.sim.getJob(job.id)?.status !== "completed") await stack.sim.cancelJob(job.id);
  await waitFor(
    async () => {
      if (ENGINES.some((engine) => (seen.get(engine)?.running ?? 0) > 0)) return false;
      const held = await Promise.all(ENGINES.map((engine) => stack.redis.zcard(stack.keys.slots("engine", engine))));
      return held.every((count) => count === 0);
    },
    { timeoutMs: 60_000, what: "every runner gone and every slot free" },
  ).catch(logsOnFailure);
  for (const engine of ENGINES) seen.get(engine)!.peak = 0;
}

describe("placement across three engines", () => {
  it("spreads 60 jobs evenly, within each engine's memory", async () => {
    const jobs = await queue(stack.sim, "pl-spread", 60, { kind: "hang" });
    await allRunning(jobs, "60 runners started", 150_000);
    expect(startedPer(jobs)).toEqual({ "engine-a": 20, "engine-b": 20, "engine-c": 0 + 20 });
    for (const engine of ENGINES) expect(seen.get(engine)?.peak).toBeLessThanOrEqual(20);
    await cancelAll(jobs);
  }, 240_000);

  it("packs: fills the first engine before the next", async () => {
    const jobs = await queue(stack.sim, "pl-pack", 25, { kind: "hang" });
    await allRunning(jobs, "25 runners started");
    expect(startedPer(jobs)).toEqual({ "engine-a": 20, "engine-b": 5, "engine-c": 0 });
    await cancelAll(jobs);
  }, 150_000);

  it("runs a gpu pool only on the engine labelled gpu, and shows demand no engine may take", async () => {
    const jobs = await queue(stack.sim, "pl-gpu", 4, { kind: "hang" });
    await allRunning(jobs, "4 gpu runners started");
    expect(startedPer(jobs)).toEqual({ "engine-a": 0, "engine-b": 0, "engine-c": 4 });
    const [tpu] = await queue(stack.sim, "pl-tpu", 1, { kind: "hang" });
    const noEngine = await waitFor(
      async () => {
        const response = await fetch(`${webhook2.url}/admin/pools`, {
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        });
        const body = (await response.json()) as { pools: { name: string; placement: { noEngine: unknown } }[] };
        return body.pools.find((p) => p.name === "pl-tpu")?.placement.noEngine ?? false;
      },
      { timeoutMs: 20_000, what: "pl-tpu shown in the admin API as demand no engine may take" },
    );
    expect(noEngine).toMatchObject({ refused: ENGINES.map((engine) => ({ engine, reason: "labels" })) });
    expect(stack.sim.getJob(tpu!.id)?.status).toBe("queued");
    await cancelAll([...jobs, tpu!]);
  }, 120_000);

  it("skips an engine with too little free memory", async () => {
    // 512m runners: two fit in each engine's 1280m, a third does not.
    const jobs = await queue(stack.sim, "pl-big", 8, { kind: "hang" });
    await waitFor(() => jobs.filter((job) => engineOf(stack.sim.getJob(job.id)?.runnerName)).length >= 6, {
      timeoutMs: 60_000,
      what: "six 512m runners started",
    }).catch(logsOnFailure);
    expect(startedPer(jobs)).toEqual({ "engine-a": 2, "engine-b": 2, "engine-c": 2 });
    // The other two wait on an engine (parked), not started anywhere.
    await waitFor(
      async () => {
        const parked = await Promise.all(
          ENGINES.map((engine) => stack.redis.zcard(stack.keys.parked("engine", engine))),
        );
        return parked.reduce((sum, count) => sum + count, 0) >= 1;
      },
      { timeoutMs: 20_000, what: "the two other jobs parked for want of memory" },
    );
    expect(jobs.filter((job) => stack.sim.getJob(job.id)?.status === "queued")).toHaveLength(2);
    // Freeing one 512m runner on engine-b lets one waiting job start there, and only there.
    const onB = jobs.find((job) => engineOf(stack.sim.getJob(job.id)?.runnerName) === "engine-b")!;
    await stack.sim.cancelJob(onB.id);
    await waitFor(() => startedPer(jobs)["engine-b"] === 3, {
      timeoutMs: 30_000,
      what: "a waiting job started on engine-b",
    }).catch(logsOnFailure);
    expect(startedPer(jobs)).toEqual({ "engine-a": 2, "engine-b": 3, "engine-c": 2 });
    for (const engine of ENGINES) expect(seen.get(engine)?.peak).toBeLessThanOrEqual(2);
    await cancelAll(jobs);
  }, 150_000);

  it("starts nothing on a drained engine, lets its busy runner finish, and uses it again once undrained", async () => {
    const cli = (args: string[]) => runCli(args, { RUNNERHUB_URL: stack.app.url, ADMIN_TOKEN });
    const busy = await queue(stack.sim, "pl-spread", 3, { kind: "run", seconds: 10 });
    await allRunning(busy, "one busy runner on each engine");
    expect(startedPer(busy)).toEqual({ "engine-a": 1, "engine-b": 1, "engine-c": 1 });
    const onB = busy.find((job) => engineOf(stack.sim.getJob(job.id)?.runnerName) === "engine-b")!;

    const drained = await cli(["engines", "drain", "engine-b"]);
    expect(drained.stderr).toBe("");
    expect(drained.code).toBe(0);
    expect(drained.stdout).toMatch(/engine-b\s+ok, draining/);
    const later = await queue(stack.sim, "pl-spread", 6, { kind: "hang" });
    await allRunning(later, "six runners started beside the drained engine");
    expect(startedPer(later)).toEqual({ "engine-a": 3, "engine-b": 0, "engine-c": 3 });
    // Its busy runner was left to finish its job.
    await waitFor(() => stack.sim.getJob(onB.id)?.conclusion === "success", {
      timeoutMs: 30_000,
      what: "the drained engine's busy job finished",
    });

    const listed = await cli(["engines", "ls"]);
    expect(listed.stdout).toMatch(/engine-c\s+ok\s+.*gpu/);
    const undrained = await cli(["engines", "undrain", "engine-b"]);
    expect(undrained.code).toBe(0);
    expect(undrained.stdout).toContain("takes runners again");
    const [next] = await queue(stack.sim, "pl-spread", 1, { kind: "hang" });
    await allRunning([next!], "a runner on the undrained engine");
    expect(engineOf(stack.sim.getJob(next!.id)?.runnerName)).toBe("engine-b");
    await cancelAll([...busy, ...later, next!]);
  }, 150_000);
});
