import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { poolWarnings } from "../config/pools.js";
import type { ProvisionStep } from "../config/test-fault.js";
import { countEngineErrors } from "../docker/counted-engine.js";
import { connectDocker, connectEngine, type ContainerEngine } from "../docker/engine.js";
import { createImageEngine } from "../docker/images.js";
import { createImageMaintenance } from "../images/maintenance.js";
import { createImagePuller, type ImagePuller } from "../images/puller.js";
import { claimEngineName, forgetLostEngines, startHeartbeat } from "../lifecycle/engine-loss.js";
import { watchRunnerExits } from "../lifecycle/exit-watcher.js";
import { createReconciler, type Reconciler } from "../lifecycle/reconciler.js";
import { sampleRunnerUsage } from "../lifecycle/usage-sampler.js";
import { startOomRerunWorker } from "../lifecycle/oom-rerun.js";
import { startRunnerOpsWorker } from "../lifecycle/runner-ops-worker.js";
import { randomRunnerSuffix } from "../pools/runner-names.js";
import { startProvisionWorker } from "../provisioning/provision-worker.js";
import { Heartbeats } from "../state/heartbeats.js";
import {
  PROVISION_CONCURRENCY,
  RECONCILE_FRESH_RUNNER_MS,
  RECONCILE_SWEEP_MS,
  reconnectDelayMs,
  USAGE_SAMPLE_INTERVAL_MS,
} from "../tunables.js";
import type { Served, Shared } from "./shared.js";
import type { TeardownStack } from "./teardown.js";

export interface WorkerRole extends Served {
  engine: ContainerEngine;
  /** This engine's reconcile passes, for the schedules. */
  reconcile: { engine: string; everyMs: number; reconciler: Reconciler };
  /** This engine's image passes (pre-pull, refresh, clean-up), for the schedules. */
  images: { engine: string; everyMs: number; run: () => Promise<unknown> };
}

/** The worker role: runs runners on this process's Docker engine and cleans up after them. */
export async function startWorkerRole(shared: Shared, stack: TeardownStack): Promise<WorkerRole> {
  const { config, redis } = shared;
  const engine = countEngineErrors(await connectEngine(config.docker), shared.metrics.dockerErrors);
  for (const warning of poolWarnings(config.pools)) shared.log.warn({ pool: warning.pool }, warning.message);
  const heartbeats = new Heartbeats(redis.client, config.redisPrefix);
  const beat = {
    heartbeats,
    engine: engine.name,
    engineId: await engine.identity(),
    timeoutMs: config.heartbeatTimeoutMs,
    log: shared.log,
  };
  // Before any work: a second engine under this name would share records and slots.
  await claimEngineName(beat);
  const watcher = watchRunnerExits({ ...shared, engine, reconnectDelayMs });
  stack.defer("exit watcher", () => watcher.stop());
  await watcher.ready;
  const sampler = sampleRunnerUsage({ ...shared, engine, intervalMs: USAGE_SAMPLE_INTERVAL_MS });
  stack.defer("usage sampler", () => sampler.stop());
  const images = startImages(shared, engine);
  startWorkers(shared, engine, images.puller, stack);
  const reconciler = createReconciler({
    ...shared,
    engine,
    provisionQueue: shared.queues.provision,
    cleanUpExited: watcher.cleanUp,
    redis: redis.client,
    prefix: config.redisPrefix,
    bootstrapTimeoutMs: config.bootstrapTimeoutMs,
    freshRunnerMs: RECONCILE_FRESH_RUNNER_MS,
    sweepEveryMs: RECONCILE_SWEEP_MS,
    engineCapacity: config.docker.capacity,
    forgetLostEngines: () =>
      forgetLostEngines({
        ...shared,
        heartbeats,
        redis: redis.client,
        prefix: config.redisPrefix,
        engine: engine.name,
        heartbeatTimeoutMs: config.heartbeatTimeoutMs,
      }),
  });
  const heartbeat = startHeartbeat({
    ...beat,
    intervalMs: config.heartbeatIntervalMs,
    // Whatever this engine had in Redis is gone: repair it now rather than one interval later.
    onForgotten: () => reconciler.runOnce().then(() => undefined),
  });
  stack.defer("heartbeat", async () => heartbeat.stop());
  return {
    engine,
    handlers: [],
    checks: { docker: () => engine.ping() },
    reconcile: { engine: engine.name, everyMs: config.reconcileIntervalMs, reconciler },
    images: { engine: engine.name, everyMs: config.imageRefreshIntervalMs, run: images.runOnce },
  };
}

/** Image handling on this engine: the puller provisioning waits on, and the periodic image pass. */
function startImages(shared: Shared, engine: ContainerEngine) {
  const { config } = shared;
  // A client of its own: pulls stream for minutes, outside the engine adapter's call deadline.
  const docker = connectDocker(config.docker.connection, { connectTimeoutMs: config.docker.callTimeoutMs });
  const images = createImageEngine(engine.name, docker, config.docker.callTimeoutMs);
  const common = { ...shared, engine: engine.name, images, store: shared.imageStore };
  const puller = createImagePuller({
    ...common,
    auths: config.registryAuths,
    refreshMs: config.imageRefreshIntervalMs,
    newToken: () => randomUUID(),
  });
  const maintenance = createImageMaintenance({
    ...common,
    puller,
    pools: shared.currentPools,
    gcAgeMs: config.imageGcAgeMs,
  });
  return { puller, runOnce: () => maintenance.runOnce() };
}

/** The test-only fault point: this process dies, as if killed -9, right after the step. */
function killAfter(step: ProvisionStep, log: Logger): (reached: ProvisionStep) => void {
  return (reached) => {
    if (reached !== step) return;
    log.warn({ step }, "test fault point reached: killing this process");
    process.kill(process.pid, "SIGKILL");
  };
}

/** The BullMQ workers of this engine: one starts runners, the other stops them. */
function startWorkers(shared: Shared, engine: ContainerEngine, images: ImagePuller, stack: TeardownStack): void {
  const { config, log } = shared;
  const options = {
    connection: shared.redis.client,
    prefix: config.redisPrefix,
    concurrency: PROVISION_CONCURRENCY,
    log,
  };
  const provisioner = startProvisionWorker(
    {
      ...shared,
      engine,
      images,
      engineCapacity: config.docker.capacity,
      githubWebUrl: config.github.webUrl,
      recheckAfterMs: config.recheckAfterMs,
      randomSuffix: randomRunnerSuffix,
      entryLockMs: config.provisionLockMs,
      fault: config.testFault && killAfter(config.testFault, log),
    },
    options,
  );
  stack.defer("provision worker", () => provisioner.close());
  const runnerOps = startRunnerOpsWorker({ ...shared, engine }, options);
  stack.defer("runner-ops worker", () => runnerOps.close());
  const oomReruns = startOomRerunWorker({ ...shared, store: shared.oomReruns.store }, options);
  stack.defer("oom-rerun worker", () => oomReruns.close());
}
