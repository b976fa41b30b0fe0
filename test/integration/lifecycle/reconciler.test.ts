import { Probot } from "probot";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { Pool } from "../../../src/config/pools.js";
import { runnerContainerSpec } from "../../../src/docker/runner-spec.js";
import { createRunnersApi, type RunnersApi } from "../../../src/github/runners-api.js";
import { watchRunnerExits, type ExitWatcher } from "../../../src/lifecycle/exit-watcher.js";
import { createReconciler } from "../../../src/lifecycle/reconciler.js";
import { createLogger } from "../../../src/observability/logger.js";
import { provisionRunner } from "../../../src/provisioning/provision.js";
import { startProvisionWorker, type ProvisionWorkerDeps } from "../../../src/provisioning/provision-worker.js";
import { provisionJobId, type ProvisionRequest } from "../../../src/queue/jobs.js";
import { GitHubSimulator, waitFor } from "../../sim/github-simulator.js";
import {
  removeManagedContainers,
  serviceContext,
  testPool,
  testPrivateKey,
  type ServiceContext,
  provisionRequest,
  runnerRecord,
} from "../support/context.js";

let ctx: ServiceContext;
let sim: GitHubSimulator;
let github: RunnersApi;
let watcher: ExitWatcher;
let pools: Pool[];

const TARGET = { installationId: 1, scope: { kind: "org" as const, org: "acme" } };
const OLD = 60 * 60_000;

beforeAll(async () => {
  ctx = await serviceContext();
  sim = await GitHubSimulator.start({ webhookSecret: "unused" });
  const probot = new Probot({
    appId: 1,
    privateKey: testPrivateKey,
    secret: "unused",
    baseUrl: `${sim.url}/api/v3`,
    log: createLogger("silent"),
  });
  github = createRunnersApi((id) => probot.auth(id), Date.now);
  watcher = watchRunnerExits({
    engine: ctx.engine,
    runners: ctx.runners,
    slots: ctx.engineSlots,
    github,
    feed: ctx.feed,
    metrics: ctx.metrics,
    pools: ctx.poolsOf(() => [testPool()]),
    oomReruns: ctx.oomReruns,
    crashLoops: ctx.crashLoops,
    log: ctx.log,
    now: Date.now,
    reconnectDelayMs: () => 100,
  });
  await watcher.ready;
});

beforeEach(() => {
  // The stub runner reaches the simulator over loopback, hence the host network.
  pools = [testPool({ network: "host", allowHostNetwork: true, idleTimeout: "10m" })];
});

afterEach(async () => {
  // Runners are fungible: one left over would take the next test's job.
  await removeManagedContainers(ctx.docker);
  for (const runner of sim.runners()) await github.deleteRunner(TARGET, runner.id).catch(() => undefined);
  await ctx.queues.provision.obliterate({ force: true });
  await ctx.flushPrefix();
});

afterAll(async () => {
  await watcher.stop();
  await ctx.close();
  await sim.stop();
});

function reconciler(bootstrapTimeoutMs = 60_000, listing?: { freshRunnerMs: number; sweepEveryMs: number }) {
  return createReconciler({
    engine: ctx.engine,
    engineId: "engine-id",
    ownsEngine: () => true,
    runners: ctx.runners,
    ledger: ctx.ledger,
    slots: ctx.engineSlots,
    pools: ctx.poolsOf(() => pools),
    github,
    provisionQueue: ctx.queues.provision,
    cleanUpExited: watcher.cleanUp,
    store: ctx.store,
    bootstrapTimeoutMs,
    // Every pass sees GitHub unless a test asks for the production rule.
    freshRunnerMs: listing?.freshRunnerMs ?? 0,
    sweepEveryMs: listing?.sweepEveryMs ?? 1,
    metrics: ctx.metrics,
    log: ctx.log,
    now: Date.now,
  });
}

let suffix = 0;
function provisionDeps(): ProvisionWorkerDeps {
  return {
    github,
    engine: ctx.engine,
    engineId: "engine-id",
    ownsEngine: () => true,
    images: ctx.images,
    runners: ctx.runners,
    ledger: ctx.ledger,
    pools: ctx.poolsOf(() => pools),
    slots: ctx.engineSlots,
    githubWebUrl: sim.url,
    recheckAfterMs: 60_000,
    feed: ctx.feed,
    metrics: ctx.metrics,
    log: ctx.log,
    now: Date.now,
    randomSuffix: () => (0x10000000 + process.pid * 1000 + ++suffix).toString(16).slice(-8).padStart(8, "0"),
    crashLoops: ctx.crashLoops,
  };
}

function demand(githubJobId: number): ProvisionRequest {
  return {
    githubJobId,
    runId: 1,
    owner: "acme",
    repo: "app",
    ...TARGET,
    labels: ["self-hosted", "linux"],
    pool: "linux",
    queuedAt: Date.now(),
  };
}

/** A runner made the way the provisioner makes it, for a job the ledger says is queued. */
async function runnerFor(githubJobId: number): Promise<string> {
  if (githubJobId > 0) await ctx.ledger.queued(demand(githubJobId));
  const outcome = await provisionRunner(demand(githubJobId), provisionDeps());
  if (outcome.kind !== "started") throw new Error(`runner not started: ${JSON.stringify(outcome)}`);
  return outcome.runnerName;
}

const registration = (name: string) => sim.runners().find((runner) => runner.name === name);
const online = (name: string) =>
  waitFor(() => registration(name)?.online === true, { timeoutMs: 15_000, what: `${name} online` });
const containerOf = async (name: string) =>
  (await ctx.engine.listManaged()).find((container) => container.name === name);
const gone = (name: string) =>
  waitFor(async () => !(await containerOf(name)), { timeoutMs: 20_000, what: `${name}'s container removed` });

/** The clean-up removes the container before it writes the exit record; wait for both. */
const exitOf = async (name: string) => {
  await waitFor(async () => (await ctx.runners.exitOf(name)) !== undefined, {
    timeoutMs: 20_000,
    what: `${name}'s exit record`,
  });
  return ctx.runners.exitOf(name);
};

describe("reconciler (GitHub simulator, real Docker and Redis): each case converges in one pass", () => {
  it("removes a container that never registered", async () => {
    await ctx.ledger.queued(demand(1)).then(() => ctx.ledger.settled("linux", 1));
    const name = "linux-0badc0de";
    const containerId = await ctx.engine.startContainer(
      runnerContainerSpec({
        name,
        pool: testPool({ command: ["sh", "-c", "trap 'exit 0' TERM; sleep 300 & wait"] }),
        runnerId: 424242,
        githubJobId: 1,
        owner: "acme",
        installationId: 1,
        registrationEnv: {},
      }),
    );
    await ctx.runners.put(
      runnerRecord(name, {
        engine: ctx.engine.name,
        ...TARGET,
        runnerId: 424242,
        containerId,
        createdAt: Date.now() - OLD,
      }),
    );

    expect(await reconciler(0).runOnce()).toMatchObject({ actions: { stop: 1 } });
    await gone(name);
    expect(await exitOf(name)).toMatchObject({ reason: "no-registration" });
  });

  it("deletes a registration runnerhub made whose container is gone", async () => {
    await ctx.ledger.queued(demand(1)).then(() => ctx.ledger.settled("linux", 1));
    const { runnerId } = await github.generateJitConfig(TARGET, {
      name: "linux-deadbeef",
      runnerGroupId: 1,
      labels: ["self-hosted", "linux"],
    });
    expect(registration("linux-deadbeef")?.id).toBe(runnerId);

    expect(await reconciler().runOnce()).toMatchObject({ actions: { "delete-registration": 1 } });
    expect(registration("linux-deadbeef")).toBeUndefined();
  });

  it("retires a runner idle past the pool's idle timeout", async () => {
    pools = [testPool({ network: "host", allowHostNetwork: true, idleTimeout: "1ms" })];
    const name = await runnerFor(0);
    await online(name);

    expect(await reconciler().runOnce()).toMatchObject({ actions: { mark: 1, retire: 1 } });
    expect(registration(name)).toBeUndefined();
    await gone(name);
    expect(await exitOf(name)).toMatchObject({ reason: "idle-timeout" });
  });

  it("retires the runner of a job cancelled before it was picked up, and keeps one whose job still waits", async () => {
    const cancelled = await runnerFor(7001);
    const waiting = await runnerFor(7002);
    await Promise.all([online(cancelled), online(waiting)]);
    // What the intake does with the completed webhook of a job no runner took.
    await ctx.ledger.settled("linux", 7001);

    expect(await reconciler().runOnce()).toMatchObject({ actions: { retire: 1 } });
    await gone(cancelled);
    expect(registration(cancelled)).toBeUndefined();
    expect(await containerOf(waiting)).toMatchObject({ state: "running" });
    expect(registration(waiting)?.online).toBe(true);
  });

  it("never removes a busy runner, whatever its idle timeout says", async () => {
    pools = [testPool({ network: "host", allowHostNetwork: true, idleTimeout: "1ms" })];
    const job = await sim.queueJob({
      owner: "acme",
      repo: "app",
      labels: ["self-hosted", "linux"],
      behavior: { kind: "hang" },
    });
    const name = await runnerFor(job.id);
    await waitFor(() => sim.getJob(job.id)?.status === "in_progress", {
      timeoutMs: 15_000,
      what: "the job to be taken",
    });
    await ctx.ledger.settled("linux", job.id);

    const summary = await reconciler().runOnce();
    expect(summary).toMatchObject({ skipped: false, failed: 0 });
    expect(summary.skipped === false && summary.actions.retire).toBeUndefined();
    expect(await containerOf(name)).toMatchObject({ state: "running" });
    expect(registration(name)?.busy).toBe(true);
    expect(await ctx.runners.get(name)).toMatchObject({ state: "busy" });
    await sim.loseRunner(registration(name)?.id ?? 0);
  });

  it("refills minIdle warm runners within maxRunners", async () => {
    pools = [testPool({ network: "host", allowHostNetwork: true, minIdle: 2, maxRunners: 3, warmScope: "acme" })];
    expect(await reconciler().runOnce()).toMatchObject({ actions: { warm: 1 } });
    const entries = await ctx.queues.provision.getJobs(["waiting"]);
    expect(entries.map((entry) => entry.id).sort()).toEqual(["warm-linux-1", "warm-linux-2"]);
    expect(entries[0]?.data).toMatchObject({
      githubJobId: 0,
      pool: "linux",
      installationId: 1,
      scope: { kind: "org", org: "acme" },
    });

    const worker = startProvisionWorker(provisionDeps(), {
      connection: ctx.redis,
      prefix: ctx.prefix,
      concurrency: 2,
      log: ctx.log,
    });
    try {
      const names = await waitFor(
        async () => {
          const warm = (await ctx.runners.list()).filter((record) => record.githubJobId === 0 && record.containerId);
          return warm.length === 2 && warm.map((record) => record.name);
        },
        { timeoutMs: 20_000, what: "two warm runners" },
      );
      await Promise.all(names.map(online));
      expect(await reconciler().runOnce()).toMatchObject({ actions: { mark: 2 } });
      expect(await ctx.queues.provision.getJobs(["waiting"])).toHaveLength(0);
    } finally {
      await worker.close();
    }
  });

  it("provisions a job left without a runner once, counting queue entries only when a job is left", async () => {
    pools = [testPool({ idleTimeout: "10m" })];
    const loads = vi.spyOn(ctx.queues.provision, "getJobs");
    try {
      // Nothing waits: the pass reads no provision-queue entry.
      await reconciler().runOnce();
      expect(loads).not.toHaveBeenCalled();

      // A waiting job whose entry is still queued has a runner on its way: nothing more is asked.
      const request = provisionRequest(4242, { installationId: TARGET.installationId });
      await ctx.ledger.queued(request);
      await ctx.queues.provision.add("provision", request, { jobId: provisionJobId(request.githubJobId) });
      const summary = await reconciler().runOnce();
      expect(summary.skipped === false && summary.actions.provision).toBeUndefined();
      expect(loads).toHaveBeenCalledTimes(1);
      expect(await ctx.queues.provision.getJobCounts("waiting")).toEqual({ waiting: 1 });

      // Its entry gone (provisioning gave up), the job gets one new entry.
      await ctx.queues.provision.obliterate({ force: true });
      expect(await reconciler().runOnce()).toMatchObject({ actions: { provision: 1 } });
      const again = await ctx.queues.provision.getJobs(["waiting"]);
      expect(again.map((entry) => entry.data.githubJobId)).toEqual([4242]);
    } finally {
      loads.mockRestore();
    }
  });

  it("lists a scope only for runners that need GitHub's view, and sweeps it once per interval", async () => {
    pools = [testPool()];
    const listings = () =>
      sim.requests.filter((r) => r.method === "GET" && r.path === "/api/v3/orgs/acme/actions/runners").length;
    const listing = { freshRunnerMs: 60_000, sweepEveryMs: 10 * 60_000 };
    // Runners still in the making (no container yet), so the pass leaves their records alone.
    const inTheMaking = { engine: ctx.engine.name, containerId: undefined, ...TARGET };
    await ctx.runners.put(runnerRecord("linux-busy0001", { ...inTheMaking, state: "busy" }));
    await ctx.runners.put(runnerRecord("linux-fresh001", { ...inTheMaking, state: "starting" }));
    const before = listings();

    // The first pass sweeps the scope (no pass has in the last interval)...
    await reconciler(OLD, listing).runOnce();
    expect(listings() - before).toBe(1);
    // ...later ones skip it: one runner is busy, the other new, and the sweep is done.
    await reconciler(OLD, listing).runOnce();
    await reconciler(OLD, listing).runOnce();
    expect(listings() - before).toBe(1);

    // A runner idle for two minutes is judged against GitHub's list.
    await ctx.runners.put(
      runnerRecord("linux-idle0001", { ...inTheMaking, state: "idle", createdAt: Date.now() - 120_000 }),
    );
    await reconciler(OLD, listing).runOnce();
    expect(listings() - before).toBe(2);
  });

  it("lets one pass at a time run per engine", async () => {
    const first = reconciler();
    const [a, b] = await Promise.all([first.runOnce(), reconciler().runOnce()]);
    expect([a.skipped, b.skipped].sort()).toEqual([false, true]);
  });
});
