import { setTimeout as sleep } from "node:timers/promises";
import { Probot } from "probot";
import type { Logger } from "pino";
import type { Config } from "../config/load.js";
import type { Pool } from "../config/pools.js";
import { createGitHubBudget, type GitHubBudget } from "../github/budget.js";
import { createRunnerhubOctokit } from "../github/octokit.js";
import { createRunnersApi, type RunnersApi } from "../github/runners-api.js";
import { createDeliveryRecovery, githubDeliveriesApi, type DeliveryRecovery } from "../intake/delivery-recovery.js";
import type { Check } from "../http/health.js";
import type { Handler } from "../http/server.js";
import {
  createMetrics,
  registerPoolLimitGauges,
  registerCrashLoopGauge,
  registerQueueGauge,
  registerRunnerGauge,
  registerWarmTargetGauge,
  type Metrics,
} from "../observability/metrics.js";
import { swallowInto } from "../observability/internal-errors.js";
import { CRASH_LOOP_POLICY, crashLoopOf, poolVersion } from "../pools/crash-loop.js";
import { poolCatalog, type PoolCatalog } from "../pools/catalog.js";
import { PoolOverrides } from "../pools/overrides.js";
import { readWarmTarget, readWarmTargets } from "../pools/warm-signals.js";
import { overflowingInto } from "../pools/overflow.js";
import { createQueues, type Queues } from "../queue/queues.js";
import type { OomRerunDeps } from "../lifecycle/oom-rerun.js";
import { CrashLoopStore } from "../pools/crash-loop-store.js";
import { UnmatchedJobStore } from "../pools/unmatched-store.js";
import { DemandLedger } from "../state/demand-ledger.js";
import { RedisEventFeed } from "../state/event-feed.js";
import { ImageStore } from "../images/image-store.js";
import { OomRerunStore } from "../lifecycle/oom-rerun-store.js";
import { startEmbeddedRedis } from "../state/embedded-redis.js";
import { connectRedis, serverAddress, type RedisHandle } from "../state/redis.js";
import { Slots } from "../slots/slots.js";
import { storeContext, type StoreContext } from "../state/store-context.js";
import { RunnerStore } from "../state/runner-store.js";
import { PoolHistoryStore } from "../history/pool-history-store.js";
import { createPoolHistory, type PoolHistoryService } from "../history/pool-history-service.js";
import {
  GITHUB_BUDGET_MAX_WAIT_MS,
  GITHUB_BUDGET_RUNNER_WAIT_MS,
  HISTORY_PICKUP_BUCKET_MS,
  HISTORY_SAMPLE_MS,
  HISTORY_WINDOW_MS,
  RECOVERY_MAX_AGE_MS,
} from "../tunables.js";
import type { TeardownStack } from "./teardown.js";

/** What a role serves over HTTP: request handlers (tried in order) and readiness checks. */
export interface Served {
  handlers: Handler[];
  checks: Record<string, Check>;
}

/** The parts every role uses: Redis and the stores over it, the queues, GitHub, metrics. */
export interface Shared {
  config: Config;
  log: Logger;
  now: () => number;
  metrics: Metrics;
  redis: RedisHandle;
  /** The Redis client with runnerhub's scripts and key layout, for every store. */
  store: StoreContext;
  runners: RunnerStore;
  ledger: DemandLedger;
  /**
   * The idle runners a pool keeps now (pools/warm-target.ts: floor, schedule or adaptive
   * forecast), read from Redis: what intake's replacement of a taken warm runner and the history aim at.
   */
  warmTargetOf: (pool: Pool) => Promise<number>;
  queues: Queues;
  overrides: PoolOverrides;
  /** The pool and engine ceilings as every role sees them; a worker binds them to its engine. */
  slots: Slots;
  probot: Probot;
  /** Each installation's GitHub call budget, pause and floor, kept in Redis for every process. */
  githubBudget: GitHubBudget;
  github: RunnersApi;
  /** The dashboard's timeline, written by intake, provisioning and clean-up. */
  feed: RedisEventFeed;
  /** Missed-webhook recovery: passes run on the schedule, the intake tells it of failed webhooks. */
  recovery: DeliveryRecovery;
  /** Runner images per engine: pull state and backoff (workers), image status (admin API). */
  imageStore: ImageStore;
  pools: PoolCatalog;
  /** Jobs re-run on a bigger pool after an OOM kill: claimed once, queued, routed by intake. */
  oomReruns: OomRerunDeps;
  /** Pools whose runners end before taking a job, and their provisioning backoff. */
  crashLoops: CrashLoopStore;
  /** Each pool's last hour for the dashboard: pickups kept by intake, samples taken on the schedule. */
  history: { store: PoolHistoryStore; service: PoolHistoryService };
  /** Queued jobs no pool serves: kept by intake, shown by the admin API. */
  unmatched: UnmatchedJobStore;
}

/** Each pool's history; the warm target is warmTargetOf's, as the reconciler and intake use it. */
function poolHistory(
  store: StoreContext,
  shared: Pick<Shared, "pools" | "runners" | "ledger" | "warmTargetOf" | "now">,
) {
  const history = new PoolHistoryStore(store, HISTORY_WINDOW_MS);
  const service = createPoolHistory({
    pools: shared.pools,
    runners: shared.runners,
    ledger: shared.ledger,
    store: history,
    warmTarget: shared.warmTargetOf,
    sampleEveryMs: HISTORY_SAMPLE_MS,
    windowMs: HISTORY_WINDOW_MS,
    pickupBucketMs: HISTORY_PICKUP_BUCKET_MS,
    now: shared.now,
  });
  return { store: history, service };
}

export async function startShared(config: Config, log: Logger, stack: TeardownStack): Promise<Shared> {
  const redis = config.redis ? await connectRedis(config.redis) : await startEmbeddedRedis(config.dataDir, log);
  // An embedded redis-server must never outlive the process that started it.
  stack.defer("redis", () => redis.close());
  log.info({ redis: redis.describe, roles: [...config.roles], pools: config.pools.map((p) => p.name) }, "starting");
  const now = () => Date.now();
  const metrics = createMetrics();
  // After a start the client reconnects by itself; each failed attempt is an error event.
  redis.client.on(
    "error",
    swallowInto(
      { log, metrics },
      {
        where: "redis.connection",
        message: "Redis connection failed; reconnecting",
        fields: { redis: redis.describe },
      },
    ),
  );
  // Each reconnect names the server, so a failover shows which primary every process follows now.
  redis.client.on("ready", () =>
    log.info({ redis: redis.describe, server: serverAddress(redis.client) }, "Redis connected again"),
  );
  const store = storeContext(redis.client, config.redisPrefix);
  const runners = new RunnerStore(store);
  registerRunnerGauge(metrics.registry, () => runners.list());
  const queues = createQueues(redis.client, config.redisPrefix);
  stack.defer("queues", () => queues.close());
  const overrides = new PoolOverrides(store);
  const pools = poolCatalog(() => config.pools, overrides);
  registerPoolLimitGauges(metrics.registry, () => pools.effective());
  registerQueueGauge(metrics.registry, () => queues.provision.getJobCounts());
  const crashLoops = new CrashLoopStore(store, CRASH_LOOP_POLICY);
  registerCrashLoopGauge(metrics.registry, async () => {
    const records = await crashLoops.getMany(config.pools.map((pool) => pool.name));
    return config.pools.map((pool) => ({
      pool: pool.name,
      looping: crashLoopOf(records.get(pool.name), poolVersion(pool), now(), crashLoops.policy) !== undefined,
    }));
  });
  const githubBudget = createGitHubBudget({
    store,
    settings: config.githubBudget,
    sleep: (ms) => sleep(ms),
    maxWaitMs: GITHUB_BUDGET_MAX_WAIT_MS,
    runnerMaxWaitMs: GITHUB_BUDGET_RUNNER_WAIT_MS,
    rateLimitFloor: config.githubRateLimitFloor,
  });
  const probot = new Probot({
    appId: config.github.appId,
    privateKey: config.github.privateKey,
    secret: config.github.webhookSecret,
    baseUrl: config.github.baseUrl,
    log: log.child({ name: "probot" }),
    Octokit: createRunnerhubOctokit({
      budget: githubBudget,
      log: log.child({ name: "github" }),
      metrics,
      timeoutMs: config.githubTimeoutMs,
      now,
      sleep: (ms) => sleep(ms),
    }),
  });
  const ledger = new DemandLedger(store);
  registerWarmTargetGauge(metrics.registry, async () => {
    const targets = await readWarmTargets({ ledger, runners }, await pools.effective(), await runners.list(), now());
    return [...targets].map(([pool, { target }]) => ({ pool, target }));
  });
  const warmTargetOf = async (pool: Pool) =>
    (await readWarmTarget({ ledger, runners }, pool, await runners.list(), now())).target;
  return {
    config,
    log,
    now,
    metrics,
    redis,
    runners,
    ledger,
    warmTargetOf,
    queues,
    overrides,
    store,
    slots: new Slots(
      store,
      queues.provision,
      log,
      (name) => pools.find(name)?.perRepository?.maxRunners,
      (name) => overflowingInto(name, pools.declared()),
    ),
    probot,
    githubBudget,
    github: createRunnersApi((installationId) => probot.auth(installationId), now),
    feed: new RedisEventFeed(store, log, now, metrics),
    recovery: createDeliveryRecovery({
      ...githubDeliveriesApi(() => probot.auth()),
      store,
      log,
      metrics,
      now,
      maxAgeMs: RECOVERY_MAX_AGE_MS,
      fullCheckEveryMs: config.recoveryIntervalMs,
    }),
    imageStore: new ImageStore(store),
    pools,
    oomReruns: { store: new OomRerunStore(store), queue: queues.oomRerun, log, now },
    crashLoops,
    history: poolHistory(store, { pools, runners, ledger, warmTargetOf, now }),
    unmatched: new UnmatchedJobStore(store),
  };
}
