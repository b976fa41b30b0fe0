import { EngineDirectory } from "../state/engine-directory.js";
import type { Logger } from "pino";
import { createAdminHandler } from "../admin/handler.js";
import type { Config } from "../config/load.js";
import type { ContainerEngine } from "../docker/engine.js";
import { healthHandler, metricsHandler } from "../http/health.js";
import { createHttpServer, listen, type Handler } from "../http/server.js";
import { startSchedulesRole } from "./schedules-role.js";
import { startShared, type Served, type Shared } from "./shared.js";
import { TeardownStack } from "./teardown.js";
import { WEBHOOK_PATH } from "../intake/webhook-handler.js";
import { startWebhookRole } from "./webhook-role.js";
import { startWorkerRole } from "./worker-role.js";
import { Heartbeats } from "../state/heartbeats.js";

export interface Runtime {
  port: number;
  /** Settles when a part fails in a way this process cannot run on from (the process must exit). */
  failed: Promise<Error>;
  stop(): Promise<void>;
}

/**
 * The composition root: the shared parts, then each role the config asks for, then HTTP. Every
 * part registers its stop step on one stack as it starts, so stop() undoes start-up in reverse
 * order, and a start-up failing half-way stops what had started before the error surfaces.
 */
export async function startRuntime(config: Config, log: Logger): Promise<Runtime> {
  const stack = new TeardownStack();
  return stack.startOrUnwind(async () => {
    const shared = await startShared(config, log, stack);
    let fail: (error: Error) => void = () => undefined;
    const failed = new Promise<Error>((resolve) => {
      fail = resolve;
    });
    const webhook = config.roles.has("webhook") ? startWebhookRole(shared) : undefined;
    const worker = config.roles.has("worker") ? await startWorkerRole(shared, stack, fail) : undefined;
    await startSchedulesRole(shared, stack, worker);
    const port = await serve(shared, [webhook, worker], worker?.engine, stack);
    return { port, failed, stop: () => stack.unwind() };
  });
}

/** Serves the roles' handlers, then health, metrics and the admin API, which every process has. */
async function serve(
  shared: Shared,
  roles: (Served | undefined)[],
  engine: ContainerEngine | undefined,
  stack: TeardownStack,
): Promise<number> {
  const { config, log } = shared;
  const served = roles.filter((role) => role !== undefined);
  const checks = Object.assign({ redis: () => shared.redis.client.ping() }, ...served.map((role) => role.checks));
  const admin = await createAdminHandler({
    adminToken: config.adminToken,
    pools: shared.pools,
    overrides: shared.overrides,
    runners: shared.runners,
    slots: shared.slots,
    queues: shared.queues,
    ledger: shared.ledger,
    github: shared.github,
    githubBudget: { budget: shared.githubBudget, burstPoints: config.githubBudget.burstPoints },
    feed: shared.feed,
    imageStore: shared.imageStore,
    crashLoops: shared.crashLoops,
    engine,
    engineCapacity: config.docker.capacity,
    heartbeats: new Heartbeats(shared.store),
    engines: new EngineDirectory(shared.store),
    heartbeatTimeoutMs: config.heartbeatTimeoutMs,
    history: shared.history.service,
    unmatched: shared.unmatched,
    metrics: shared.metrics,
    log,
    now: shared.now,
  });
  stack.defer("dashboard updates", () => admin.stop());
  const handlers: Handler[] = [
    ...served.flatMap((role) => role.handlers),
    healthHandler(checks, log),
    metricsHandler(shared.metrics.registry, config.metricsToken),
    admin,
  ];
  const server = createHttpServer(handlers, log);
  const port = await listen(server, config.http.host, config.http.port);
  stack.defer("http server", async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  });
  log.info({ host: config.http.host, port, webhookPath: WEBHOOK_PATH }, "listening");
  return port;
}
