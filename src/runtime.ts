import { setTimeout as sleep } from "node:timers/promises";
import { createAdminHandler } from "./admin/handler.js";
import type { Worker } from "bullmq";
import { createNodeMiddleware, Probot } from "probot";
import type { Logger } from "pino";
import type { Config } from "./config/load.js";
import { poolWarnings } from "./config/pools.js";
import { connectEngine, type ContainerEngine } from "./docker/engine.js";
import { countEngineErrors } from "./docker/counted-engine.js";
import { createGitHubBudget } from "./github/budget.js";
import { createRunnerhubOctokit } from "./github/octokit.js";
import { createRunnersApi } from "./github/runners-api.js";
import { healthHandler, metricsHandler, type Check } from "./http/health.js";
import { createHttpServer, listen, type Handler } from "./http/server.js";
import { intakeApp } from "./intake/app.js";
import { createDeliveryRecovery, githubDeliveriesApi } from "./lifecycle/delivery-recovery.js";
import { watchRunnerExits } from "./lifecycle/exit-watcher.js";
import { createReconciler } from "./lifecycle/reconciler.js";
import { startSchedules } from "./lifecycle/schedules.js";
import { sampleRunnerUsage } from "./lifecycle/usage-sampler.js";
import {
  createMetrics,
  registerPoolLimitGauges,
  registerQueueGauge,
  registerRunnerGauge,
  type Metrics,
} from "./observability/metrics.js";
import { Capacity } from "./pools/capacity.js";
import { PoolOverrides } from "./pools/overrides.js";
import { randomRunnerSuffix } from "./pools/runner-names.js";
import { createSlotKeeper } from "./provisioning/slots.js";
import { startProvisionWorker, startRunnerOpsWorker } from "./provisioning/workers.js";
import { createQueues } from "./queue/queues.js";
import { connectRedis, startEmbeddedRedis, type RedisHandle } from "./state/redis.js";
import { DemandLedger } from "./state/demand-ledger.js";
import { RunnerStore } from "./state/runner-store.js";

export const WEBHOOK_PATH = "/api/github/webhooks";
/** Demand younger than this is trusted to be still queued (saves a GitHub call per runner). */
const RECHECK_AFTER_MS = 10_000;
const PROVISION_CONCURRENCY = 10;
/** Runner resource use is read this often: a short job still gets readings, and the engine a light load. */
const USAGE_SAMPLE_INTERVAL_MS = 5_000;
/** GitHub fails a job no runner took within 24 hours; older deliveries are not worth redelivering. */
const RECOVERY_MAX_AGE_MS = 24 * 3600_000;
/** A GitHub call that cannot get its share of the budget within this time fails and is retried later. */
const GITHUB_BUDGET_MAX_WAIT_MS = 5 * 60_000;

export interface Runtime {
  port: number;
  stop(): Promise<void>;
}

/** Starts every role the config asks for; stop() undoes it in reverse order. */
export async function startRuntime(config: Config, log: Logger): Promise<Runtime> {
  const metrics = createMetrics();
  const now = () => Date.now();
  const engine = config.roles.has("worker")
    ? countEngineErrors(await connectEngine(config.docker), metrics.dockerErrors)
    : undefined;
  const redis = config.redisUrl ? await connectRedis(config.redisUrl) : await startEmbeddedRedis(config.dataDir, log);
  // Whatever started is stopped in reverse order, on stop() and when start-up fails half-way
  // (an embedded redis-server must never outlive the process that started it).
  const teardown: (() => Promise<unknown>)[] = [() => redis.close()];
  const undo = async () => {
    for (const step of teardown.splice(0).reverse()) await step();
  };
  try {
    return await startRoles({ config, log, engine, redis, metrics, now, teardown, undo });
  } catch (error) {
    await undo();
    throw error;
  }
}

interface Started {
  config: Config;
  log: Logger;
  engine: ContainerEngine | undefined;
  redis: RedisHandle;
  metrics: Metrics;
  now: () => number;
  /** Steps that undo what startRoles starts, run by undo() in reverse. */
  teardown: (() => Promise<unknown>)[];
  undo: () => Promise<void>;
}

async function startRoles({ config, log, engine, redis, metrics, now, teardown, undo }: Started): Promise<Runtime> {
  log.info({ redis: redis.describe, roles: [...config.roles], pools: config.pools.map((p) => p.name) }, "starting");

  const runners = new RunnerStore(redis.client, config.redisPrefix);
  registerRunnerGauge(metrics.registry, () => runners.list());
  const ledger = new DemandLedger(redis.client, config.redisPrefix);
  const queues = createQueues(redis.client, config.redisPrefix);
  teardown.push(() => queues.close());
  const overrides = new PoolOverrides(redis.client, config.redisPrefix);
  const capacity = new Capacity(redis.client, config.redisPrefix);
  registerPoolLimitGauges(metrics.registry, () => overrides.effective(config.pools));
  registerQueueGauge(metrics.registry, () => queues.provision.getJobCounts());
  const slots = createSlotKeeper(capacity, queues.provision, log);
  const probot = new Probot({
    appId: config.github.appId,
    privateKey: config.github.privateKey,
    secret: config.github.webhookSecret,
    baseUrl: config.github.baseUrl,
    log: log.child({ name: "probot" }),
    Octokit: createRunnerhubOctokit({
      budget: createGitHubBudget({
        redis: redis.client,
        prefix: config.redisPrefix,
        settings: config.githubBudget,
        sleep: (ms) => sleep(ms),
        maxWaitMs: GITHUB_BUDGET_MAX_WAIT_MS,
      }),
      log: log.child({ name: "github" }),
      metrics,
      now,
    }),
  });
  const github = createRunnersApi((installationId) => probot.auth(installationId));
  const pools = () => config.pools;

  const checks: Record<string, Check> = { redis: () => redis.client.ping() };
  if (engine) checks.docker = () => engine.ping();
  const handlers: Handler[] = [
    healthHandler(checks),
    metricsHandler(metrics.registry),
    await createAdminHandler({
      adminToken: config.adminToken,
      pools: config.pools,
      overrides,
      runners,
      capacity,
      slots,
      queues,
      github,
      engine,
      log,
      now,
    }),
  ];

  if (config.roles.has("webhook")) {
    const intake = intakeApp({
      pools,
      provisionQueue: queues.provision,
      runnerOpsQueue: (name) => queues.runnerOps(name),
      runners,
      ledger,
      stopGraceMs: config.stopGraceMs,
      metrics,
      log,
      now,
    });
    const webhooks = await createNodeMiddleware(intake, { probot, webhooksPath: WEBHOOK_PATH });
    handlers.unshift(async (req, res) => {
      // Probot's manifest flow registers the app's root URL as its webhook URL; accept both.
      if (req.method === "POST" && req.url === "/" && req.headers["x-github-event"]) req.url = WEBHOOK_PATH;
      return (await webhooks(req, res)) === true;
    });
  }

  const workers: Worker[] = [];
  let reconcile: Parameters<typeof startSchedules>[0]["reconcile"];
  if (engine) {
    for (const warning of poolWarnings(config.pools)) log.warn({ pool: warning.pool }, warning.message);
    const workerOptions = {
      connection: redis.client,
      prefix: config.redisPrefix,
      concurrency: PROVISION_CONCURRENCY,
      log,
    };
    const watcher = watchRunnerExits({
      engine,
      runners,
      slots,
      github,
      metrics,
      log,
      now,
      reconnectDelayMs: (attempt) => Math.min(500 * 2 ** attempt, 30_000),
    });
    teardown.push(() => watcher.stop());
    await watcher.ready;
    const sampler = sampleRunnerUsage({ engine, runners, log, intervalMs: USAGE_SAMPLE_INTERVAL_MS });
    teardown.push(() => sampler.stop());
    workers.push(
      startProvisionWorker(
        {
          github,
          engine,
          runners,
          ledger,
          pools,
          capacity,
          slots,
          engineCapacity: config.docker.capacity,
          githubWebUrl: config.github.webUrl,
          recheckAfterMs: RECHECK_AFTER_MS,
          metrics,
          log,
          now,
          randomSuffix: randomRunnerSuffix,
        },
        workerOptions,
      ),
      startRunnerOpsWorker({ engine, runners, log }, workerOptions),
    );
    const reconciler = createReconciler({
      engine,
      runners,
      ledger,
      capacity,
      slots,
      overrides,
      pools,
      github,
      provisionQueue: queues.provision,
      cleanUpExited: watcher.cleanUp,
      redis: redis.client,
      prefix: config.redisPrefix,
      bootstrapTimeoutMs: config.bootstrapTimeoutMs,
      metrics,
      log,
      now,
    });
    reconcile = { engine: engine.name, everyMs: config.reconcileIntervalMs, reconciler };
  }

  const recovery = createDeliveryRecovery({
    ...githubDeliveriesApi(() => probot.auth()),
    redis: redis.client,
    prefix: config.redisPrefix,
    log,
    now,
    maxAgeMs: RECOVERY_MAX_AGE_MS,
  });
  teardown.push(() => Promise.all(workers.map((worker) => worker.close())));
  const schedules = await startSchedules({
    connection: redis.client,
    prefix: config.redisPrefix,
    log,
    now,
    recovery: { everyMs: config.recoveryIntervalMs, run: () => recovery.run() },
    reconcile,
  });

  teardown.push(() => schedules.close());

  const server = createHttpServer(handlers, log);
  const port = await listen(server, config.http.host, config.http.port);
  log.info({ host: config.http.host, port, webhookPath: WEBHOOK_PATH }, "listening");

  return {
    port,
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await undo();
    },
  };
}
