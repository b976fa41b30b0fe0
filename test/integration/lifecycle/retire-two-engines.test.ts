import { Probot } from "probot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Pool } from "../../../src/config/pools.js";
import { createContainerEngine, type ContainerEngine } from "../../../src/docker/engine.js";
import { createRunnersApi, type RunnersApi } from "../../../src/github/runners-api.js";
import { watchRunnerExits, type ExitWatcher } from "../../../src/lifecycle/exit-watcher.js";
import { createReconciler } from "../../../src/lifecycle/reconciler.js";
import { createLogger } from "../../../src/observability/logger.js";
import { provisionRunner } from "../../../src/provisioning/provision.js";
import type { ProvisionRequest } from "../../../src/queue/jobs.js";
import { GitHubSimulator, waitFor } from "../../sim/github-simulator.js";
import { buildStubImage } from "../../sim/stub-image.js";
import { DockerEngine } from "../../support/docker-engine.js";
import {
  removeManagedContainers,
  serviceContext,
  testPool,
  testPrivateKey,
  TEST_DOCKER_TIMEOUT_MS,
  type ServiceContext,
} from "../support/context.js";

/**
 * Two engines, one pool: each engine's reconcile pass sees the pool's whole surplus. Run at once,
 * they must together retire that surplus once, not once each.
 */
let ctx: ServiceContext;
let second: DockerEngine;
let sim: GitHubSimulator;
let github: RunnersApi;
let engines: ContainerEngine[];
const watchers: ExitWatcher[] = [];
const TARGET = { installationId: 1, scope: { kind: "org" as const, org: "acme" } };
let pools: Pool[];

beforeAll(async () => {
  ctx = await serviceContext();
  second = await DockerEngine.start();
  await buildStubImage(second.client());
  sim = await GitHubSimulator.start({ webhookSecret: "unused" });
  const probot = new Probot({
    appId: 1,
    privateKey: testPrivateKey,
    secret: "unused",
    baseUrl: `${sim.url}/api/v3`,
    log: createLogger("silent"),
  });
  github = createRunnersApi((id) => probot.auth(id), Date.now);
  engines = [
    ctx.engine,
    createContainerEngine("second-engine", second.client(), { callTimeoutMs: TEST_DOCKER_TIMEOUT_MS }),
  ];
  for (const engine of engines) {
    const watcher = watchRunnerExits({
      engine,
      runners: ctx.runners,
      slots: ctx.slots.forEngine({ name: engine.name, capacity: undefined }),
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
    watchers.push(watcher);
    await watcher.ready;
  }
  // Idle for a millisecond is idle long enough: every runner is a candidate for retiring.
  pools = [testPool({ network: "host", allowHostNetwork: true, idleTimeout: "1ms", maxRunners: 4 })];
}, 120_000);

afterAll(async () => {
  await Promise.all(watchers.map((watcher) => watcher.stop()));
  await removeManagedContainers(ctx.docker);
  await second?.destroy();
  await ctx?.flushPrefix();
  await ctx?.close();
  await sim?.stop();
});

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

let suffix = 0;
async function runnerOn(engine: ContainerEngine, githubJobId: number): Promise<string> {
  await ctx.ledger.queued(demand(githubJobId));
  const outcome = await provisionRunner(demand(githubJobId), {
    github,
    engine,
    engineId: `${engine.name}-id`,
    ownsEngine: () => true,
    images: engine === ctx.engine ? ctx.images : ctx.imagePuller(engine.name, second.client()),
    runners: ctx.runners,
    ledger: ctx.ledger,
    pools: ctx.poolsOf(() => pools),
    slots: ctx.slots.forEngine({ name: engine.name, capacity: undefined }),
    githubWebUrl: sim.url,
    recheckAfterMs: 60_000,
    feed: ctx.feed,
    metrics: ctx.metrics,
    log: ctx.log,
    now: Date.now,
    randomSuffix: () => (0x20000000 + ++suffix).toString(16),
  });
  if (outcome.kind !== "started") throw new Error(`runner not started: ${JSON.stringify(outcome)}`);
  return outcome.runnerName;
}

function reconcilerOf(engine: ContainerEngine) {
  return createReconciler({
    engine,
    engineId: `${engine.name}-id`,
    ownsEngine: () => true,
    runners: ctx.runners,
    ledger: ctx.ledger,
    slots: ctx.slots.forEngine({ name: engine.name, capacity: undefined }),
    pools: ctx.poolsOf(() => pools),
    github,
    provisionQueue: ctx.queues.provision,
    cleanUpExited: async () => undefined,
    store: ctx.store,
    bootstrapTimeoutMs: 60_000,
    freshRunnerMs: 0,
    sweepEveryMs: 1,
    metrics: ctx.metrics,
    log: ctx.log,
    now: Date.now,
  });
}

describe("retiring a pool's surplus across two engines", () => {
  it("retires the surplus once when both engines' passes run at once", async () => {
    const [here, there] = engines as [ContainerEngine, ContainerEngine];
    const names = [
      await runnerOn(here, 8001),
      await runnerOn(here, 8002),
      await runnerOn(there, 8003),
      await runnerOn(there, 8004),
    ];
    await waitFor(() => names.every((name) => sim.runners().find((r) => r.name === name)?.online), {
      timeoutMs: 20_000,
      what: "four runners online",
    });
    // Two of the four jobs went elsewhere: two runners are surplus, two still have a job waiting.
    await ctx.ledger.settled("linux", 8001);
    await ctx.ledger.settled("linux", 8003);

    const summaries = await Promise.all([reconcilerOf(here).runOnce(), reconcilerOf(there).runOnce()]);
    const retired = summaries.reduce((sum, s) => sum + (s.skipped ? 0 : (s.actions.retire ?? 0)), 0);
    expect(retired).toBe(2);
    const left = names.filter((name) => sim.runners().some((r) => r.name === name));
    expect(left).toHaveLength(2);
    const live = await waitFor(
      async () => {
        const records = (await ctx.runners.list()).filter((record) => !record.retiring);
        return records.length === 2 && records;
      },
      { timeoutMs: 20_000, what: "two runners left for the two waiting jobs" },
    );
    expect(live.map((record) => record.name).sort()).toEqual(left.sort());
  });
});
