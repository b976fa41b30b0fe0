import { EngineDirectory } from "../../../src/state/engine-directory.js";
import { GITHUB_BUDGET_RUNNER_WAIT_MS } from "../../../src/tunables.js";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { Probot } from "probot";
import { inject } from "vitest";
import { parseDockerHost } from "../../../src/config/docker-host.js";
import { poolSchema, type Pool } from "../../../src/config/pools.js";
import { connectDocker, createContainerEngine, type ContainerEngine } from "../../../src/docker/engine.js";
import { createImageEngine, type ImageEngine } from "../../../src/images/image-engine.js";
import { LABELS } from "../../../src/docker/labels.js";
import { setTimeout as sleep } from "node:timers/promises";
import { createGitHubBudget, type GitHubBudget, type GitHubBudgetSettings } from "../../../src/github/budget.js";
import { createImagePuller, type ImagePuller } from "../../../src/images/puller.js";
import { createRunnerhubOctokit } from "../../../src/github/octokit.js";
import { createRunnersApi, type RunnersApi } from "../../../src/github/runners-api.js";
import { createLogger, type Logger } from "../../../src/observability/logger.js";
import { createMetrics, type Metrics } from "../../../src/observability/metrics.js";
import { ImageStore } from "../../../src/images/image-store.js";
import { EngineSlots, Slots } from "../../../src/slots/slots.js";
import { storeContext, type StoreContext } from "../../../src/state/store-context.js";
import { RunnerStore } from "../../../src/state/runner-store.js";
import { DemandLedger } from "../../../src/state/demand-ledger.js";
import { RedisKeys } from "../../../src/state/keys.js";
import { RedisEventFeed } from "../../../src/state/event-feed.js";
import { CrashLoopStore } from "../../../src/pools/crash-loop-store.js";
import { CRASH_LOOP_POLICY } from "../../../src/pools/crash-loop.js";
import { poolCatalog, type PoolCatalog } from "../../../src/pools/catalog.js";
import { PoolOverrides } from "../../../src/pools/overrides.js";
import { createQueues, type Queues } from "../../../src/queue/queues.js";
import type { ProvisionRequest } from "../../../src/queue/jobs.js";
import type Dockerode from "dockerode";
import type { OomRerunDeps } from "../../../src/lifecycle/oom-rerun.js";
import { OomRerunStore } from "../../../src/lifecycle/oom-rerun-store.js";
import type { AdminDeps } from "../../../src/admin/handler.js";
import { Heartbeats } from "../../../src/state/heartbeats.js";

export { runnerRecord } from "../../unit/support/runners.js";

export const GITHUB_API = "https://api.github.com";

export const testPrivateKey = generateKeyPairSync("rsa", { modulusLength: 2048 })
  .privateKey.export({ type: "pkcs1", format: "pem" })
  .toString();

/** Generous: the engine is shared by parallel tests on a small machine. */
export const TEST_DOCKER_TIMEOUT_MS = 60_000;

/** RUNNERHUB_GITHUB_TIMEOUT's default: nock answers at once, so only a test that hangs a reply reaches it. */
export const TEST_GITHUB_TIMEOUT_MS = 30_000;

export function testPool(fields: Record<string, unknown> = {}): Pool {
  return poolSchema.parse({
    name: "linux",
    labels: ["self-hosted", "linux"],
    image: inject("stubImage"),
    maxRunners: 5,
    network: "none",
    resources: { memory: "64m", pids: 64 },
    ...fields,
  });
}

export interface ServiceContext {
  redis: Redis;
  prefix: string;
  /** The stores' client and key layout on this context's prefix. */
  store: StoreContext;
  docker: Dockerode;
  engine: ContainerEngine;
  imageEngine: ImageEngine;
  imageStore: ImageStore;
  /** Ensures pool images on the engine, as the worker does before provisioning. */
  images: ImagePuller;
  /** The same for another engine (a second dockerd). */
  imagePuller(engineName: string, docker: Dockerode): ImagePuller;
  runners: RunnerStore;
  queues: Queues;
  ledger: DemandLedger;
  overrides: PoolOverrides;
  slots: Slots;
  /** The slots of this context's engine, without a capacity. */
  engineSlots: EngineSlots;
  /** Where the exit watcher records and queues OOM re-runs. */
  oomReruns: OomRerunDeps;
  /** Pools' crash loops, on this context's prefix, with runnerhub's policy. */
  crashLoops: CrashLoopStore;
  /** The shared GitHub budget of this context's prefix, with GitHub's defaults unless told. */
  newBudget(settings?: Partial<GitHubBudgetSettings>): GitHubBudget;
  /** The pools `declared` reads, with the run-time overrides on this context's prefix. */
  poolsOf(declared: () => readonly Pool[]): PoolCatalog;
  /** The timeline feed, on this context's prefix. */
  feed: RedisEventFeed;
  /** A GitHub client with empty caches (installation tokens, runner group ids), counting into `into`. */
  newGitHub(into?: Metrics): RunnersApi;
  metrics: Metrics;
  log: Logger;
  /** Deletes every Redis key of this context's prefix. */
  flushPrefix(): Promise<void>;
  /** Removes every managed container of this engine and closes connections. */
  close(): Promise<void>;
}

/** Real Redis and Docker from the global setup; GitHub at api.github.com, for nock to play. */
export async function serviceContext(): Promise<ServiceContext> {
  const redis = new Redis(inject("redisUrl"), { maxRetriesPerRequest: null });
  const prefix = `t${randomBytes(4).toString("hex")}`;
  const keys = new RedisKeys(prefix);
  const store = storeContext(redis, prefix);
  const target = parseDockerHost({ DOCKER_HOST: inject("dockerHost") });
  if (!target.ok) throw new Error(target.problems.join("; "));
  const docker = connectDocker(target.connection, { connectTimeoutMs: TEST_DOCKER_TIMEOUT_MS });
  const engine = createContainerEngine("test-engine", docker, { callTimeoutMs: TEST_DOCKER_TIMEOUT_MS });
  const log = createLogger(process.env.TEST_LOG_LEVEL ?? "silent");
  const queues = createQueues(redis, prefix);
  const overrides = new PoolOverrides(store);
  const slots = new Slots(store, queues.provision, log);
  const newBudget = (settings: Partial<GitHubBudgetSettings> = {}) =>
    createGitHubBudget({
      store,
      settings: { burstPoints: 300, pointsPerMinute: 600, reservePoints: 100, ...settings },
      sleep: (ms) => sleep(ms),
      maxWaitMs: 60_000,
      runnerMaxWaitMs: GITHUB_BUDGET_RUNNER_WAIT_MS,
    });
  const metrics = createMetrics();
  const imageEngine = createImageEngine("test-engine", docker, TEST_DOCKER_TIMEOUT_MS);
  const imageStore = new ImageStore(store);
  const imagePuller = (engineName: string, client: Dockerode) =>
    createImagePuller({
      engine: engineName,
      images: createImageEngine(engineName, client, TEST_DOCKER_TIMEOUT_MS),
      store: imageStore,
      auths: new Map(),
      refreshMs: 15 * 60_000,
      metrics,
      log,
      now: Date.now,
      newToken: () => randomBytes(8).toString("hex"),
    });
  return {
    newBudget,
    poolsOf: (declared) => poolCatalog(declared, overrides),
    redis,
    prefix,
    store,
    docker,
    engine,
    imageEngine,
    imageStore,
    images: imagePuller(engine.name, docker),
    imagePuller,
    runners: new RunnerStore(store),
    queues,
    ledger: new DemandLedger(store),
    overrides,
    slots,
    engineSlots: slots.forEngine({ name: engine.name, capacity: undefined }),
    feed: new RedisEventFeed(store, log, () => Date.now(), metrics),
    oomReruns: { store: new OomRerunStore(store), queue: queues.oomRerun, log, now: () => Date.now() },
    crashLoops: new CrashLoopStore(store, CRASH_LOOP_POLICY),
    newGitHub(into = metrics) {
      const probot = new Probot({
        appId: 1,
        privateKey: testPrivateKey,
        secret: "s",
        baseUrl: GITHUB_API,
        log: createLogger("silent"),
        Octokit: createRunnerhubOctokit({
          budget: newBudget(),
          log,
          metrics: into,
          timeoutMs: TEST_GITHUB_TIMEOUT_MS,
          now: () => Date.now(),
          sleep: (ms) => sleep(ms),
        }),
      });
      return createRunnersApi((id) => probot.auth(id), Date.now);
    },
    metrics,
    log,
    async flushPrefix() {
      const found = await redis.keys(keys.everything);
      if (found.length > 0) await redis.del(...found);
    },
    async close() {
      await removeManagedContainers(docker);
      await queues.close();
      await redis.quit();
    },
  };
}

export async function removeManagedContainers(docker: Dockerode): Promise<void> {
  const containers = await docker.listContainers({ all: true, filters: { label: [`${LABELS.managed}=true`] } });
  await Promise.all(
    containers.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  );
}

/** Demand for one runner of the test pool, as the intake would enqueue it. */
/** A second process over the same Redis keys: its own connection and queues, closed by `close`. */
export interface SecondProcess {
  redis: Redis;
  queues: Queues;
  close(): Promise<void>;
}

export function secondProcess(prefix: string): SecondProcess {
  const redis = new Redis(inject("redisUrl"), { maxRetriesPerRequest: null });
  const queues = createQueues(redis, prefix);
  return {
    redis,
    queues,
    async close() {
      await queues.close();
      await redis.quit();
    },
  };
}

export function provisionRequest(githubJobId: number, fields: Partial<ProvisionRequest> = {}): ProvisionRequest {
  return {
    githubJobId,
    runId: 1,
    owner: "acme",
    repo: "app",
    installationId: 7,
    scope: { kind: "org", org: "acme" },
    labels: ["self-hosted", "linux"],
    pool: "linux",
    queuedAt: Date.now(),
    ...fields,
  };
}

/** The admin handler's parts on this context (every test server of the admin API starts from these). */
export function adminDeps(
  ctx: ServiceContext,
  fields: { pools: readonly Pool[] } & Partial<Omit<AdminDeps, "pools">>,
): AdminDeps {
  const { pools, ...rest } = fields;
  return {
    adminToken: undefined,
    overrides: ctx.overrides,
    runners: ctx.runners,
    slots: ctx.slots,
    queues: ctx.queues,
    ledger: ctx.ledger,
    github: ctx.newGitHub(),
    githubBudget: { budget: ctx.newBudget(), burstPoints: 300 },
    engine: ctx.engine,
    feed: ctx.feed,
    heartbeats: new Heartbeats(ctx.store),
    engines: new EngineDirectory(ctx.store),
    heartbeatTimeoutMs: 30_000,
    history: { read: () => Promise.resolve([]) },
    imageStore: ctx.imageStore,
    crashLoops: ctx.crashLoops,
    unmatched: { recent: () => Promise.resolve([]) },
    metrics: ctx.metrics,
    log: ctx.log,
    now: () => Date.now(),
    ...rest,
    pools: ctx.poolsOf(() => pools),
  };
}
