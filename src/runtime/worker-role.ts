import { randomUUID } from "node:crypto";
import type { Worker } from "bullmq";
import type { Logger } from "pino";
import { poolWarnings } from "../config/pools.js";
import type { ProvisionStep } from "../config/test-fault.js";
import { countEngineErrors } from "../docker/counted-engine.js";
import { connectDocker, connectEngine, type ContainerEngine } from "../docker/engine.js";
import { createImageEngine } from "../images/image-engine.js";
import { createImageMaintenance } from "../images/maintenance.js";
import { createImagePuller, type ImagePuller } from "../images/puller.js";
import {
  claimEngineName,
  forgetLostEngines,
  startHeartbeat,
  type EngineNameTakenError,
} from "../lifecycle/engine-loss.js";
import { watchRunnerExits } from "../lifecycle/exit-watcher.js";
import { createReconciler, type Reconciler } from "../lifecycle/reconciler.js";
import { sampleRunnerUsage } from "../lifecycle/usage-sampler.js";
import { startOomRerunWorker } from "../lifecycle/oom-rerun.js";
import { startStopRunnerWorker } from "../lifecycle/stop-runner-worker.js";
import { randomRunnerSuffix } from "../pools/runner-names.js";
import { startProvisionWorker } from "../provisioning/provision-worker.js";
import type { ProvisionRequest } from "../queue/jobs.js";
import type { EngineSlots } from "../slots/slots.js";
import { NotReadyError } from "../http/health.js";
import { Heartbeats } from "../state/heartbeats.js";
import { checkRunnerSizes } from "../provisioning/size-check.js";
import { EngineDirectory } from "../state/engine-directory.js";
import { EngineAdmission } from "../slots/admission.js";
import type { PlacementDeps } from "../provisioning/placement-step.js";
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

/**
 * The worker role: runs runners on this process's Docker engine and cleans up after them. It
 * stops provisioning while its engine does not answer, and stops for good (onFatal) once another
 * engine takes its name: from then on its records are no longer its own.
 */
export async function startWorkerRole(
  shared: Shared,
  stack: TeardownStack,
  onFatal: (error: Error) => void,
): Promise<WorkerRole> {
  const { config, log, now, metrics, runners, github, feed, pools, crashLoops } = shared;
  const engine = countEngineErrors(await connectEngine(config.docker), metrics.dockerErrors);
  for (const warning of poolWarnings(config.pools)) log.warn({ pool: warning.pool }, warning.message);
  const heartbeats = new Heartbeats(shared.store);
  const engineId = await engine.identity();
  const beat = { heartbeats, engine: engine.name, engineId, timeoutMs: config.heartbeatTimeoutMs };
  // Before any work: a second engine under this name would share records and slots.
  await claimEngineName(beat);
  let taken: EngineNameTakenError | undefined;
  const ownsEngine = () => taken === undefined;
  const slots = shared.slots.forEngine({ name: engine.name, capacity: config.docker.capacity });
  const directory = new EngineDirectory(shared.store);
  const publishProfile = () => publishEngineProfile(shared, engine, directory);
  await publishProfile();
  await checkRunnerSizes({ directory, pools: config.pools });
  const placement: PlacementDeps = {
    directory,
    heartbeats,
    heartbeatTimeoutMs: config.heartbeatTimeoutMs,
    admission: new EngineAdmission(shared.store),
  };
  const watcher = watchRunnerExits({
    engine,
    runners,
    slots,
    github,
    feed,
    pools,
    oomReruns: shared.oomReruns,
    crashLoops,
    reconnectDelayMs,
    metrics,
    log,
    now,
  });
  stack.defer("exit watcher", () => watcher.stop());
  await watcher.ready;
  const sampler = sampleRunnerUsage({ engine, runners, intervalMs: USAGE_SAMPLE_INTERVAL_MS, metrics, log });
  stack.defer("usage sampler", () => sampler.stop());
  const images = startImages(shared, engine);
  const provisioner = startWorkers(shared, { engine, engineId, ownsEngine, slots, placement }, images.puller, stack);
  const reconciler = createReconciler({
    engine,
    engineId,
    ownsEngine,
    runners,
    ledger: shared.ledger,
    pools,
    github,
    store: shared.store,
    provisionQueue: shared.queues.provision,
    cleanUpExited: watcher.cleanUp,
    bootstrapTimeoutMs: config.bootstrapTimeoutMs,
    freshRunnerMs: RECONCILE_FRESH_RUNNER_MS,
    sweepEveryMs: RECONCILE_SWEEP_MS,
    slots,
    forgetLostEngines: () =>
      forgetLostEngines({
        heartbeats,
        runners,
        slots: shared.slots,
        github,
        store: shared.store,
        engine: engine.name,
        heartbeatTimeoutMs: config.heartbeatTimeoutMs,
        metrics,
        log,
        now,
      }),
    metrics,
    log,
    now,
  });
  const heartbeat = startHeartbeat({
    ...beat,
    log,
    metrics,
    intervalMs: config.heartbeatIntervalMs,
    answers: () =>
      engine.ping().then(
        () => true,
        () => false,
      ),
    // Whatever this engine had in Redis is gone (or was given up): repair it now, not one pass later.
    onForgotten: () => Promise.all([publishProfile(), reconciler.runOnce()]).then(() => undefined),
    // Jobs taken while the engine is down would hang on it; other engines' workers serve them.
    // Back up, it first reconciles what it finds (registrations others deleted, busy runners).
    onAnswering: async (answering) => {
      if (!answering) return provisioner.pause(true);
      await reconciler.runOnce().finally(() => provisioner.resume());
    },
    onTaken: (error) => {
      taken = error;
      void provisioner.pause(true);
      onFatal(error);
    },
  });
  stack.defer("heartbeat", async () => heartbeat.stop());
  return {
    engine,
    handlers: [],
    checks: {
      docker: () => engine.ping(),
      engineName: async () => {
        if (taken) throw new NotReadyError(taken.message);
      },
    },
    reconcile: { engine: engine.name, everyMs: config.reconcileIntervalMs, reconciler },
    images: { engine: engine.name, everyMs: config.imageRefreshIntervalMs, run: images.runOnce },
  };
}

/** What placement needs to know of this engine: its labels, what runners may reserve, its capacity. */
async function publishEngineProfile(shared: Shared, engine: ContainerEngine, directory: EngineDirectory) {
  const { docker } = shared.config;
  const hardware = await engine.hardware();
  await directory.publish(engine.name, {
    labels: docker.labels,
    memoryBytes: docker.memoryBytes ?? hardware.memoryBytes,
    cpus: docker.cpus ?? hardware.cpus,
    capacity: docker.capacity,
  });
}

/** Image handling on this engine: the puller provisioning waits on, and the periodic image pass. */
function startImages(shared: Shared, engine: ContainerEngine) {
  const { config, metrics, log, now } = shared;
  // A client of its own: pulls stream for minutes, outside the engine adapter's call deadline.
  const docker = connectDocker(config.docker.connection, { connectTimeoutMs: config.docker.callTimeoutMs });
  const images = createImageEngine(engine.name, docker, config.docker.callTimeoutMs);
  const common = { engine: engine.name, images, store: shared.imageStore, metrics, log, now };
  const puller = createImagePuller({
    ...common,
    auths: config.registryAuths,
    refreshMs: config.imageRefreshIntervalMs,
    newToken: () => randomUUID(),
  });
  const maintenance = createImageMaintenance({
    ...common,
    puller,
    pools: shared.pools,
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

/** The BullMQ workers of this engine: one starts runners (returned, to pause), the other stops them. */
function startWorkers(
  shared: Shared,
  bound: {
    engine: ContainerEngine;
    engineId: string;
    ownsEngine: () => boolean;
    slots: EngineSlots;
    placement: PlacementDeps;
  },
  images: ImagePuller,
  stack: TeardownStack,
): Worker<ProvisionRequest> {
  const { engine } = bound;
  const { config, log, metrics, now, runners, github } = shared;
  const options = {
    connection: shared.redis.client,
    prefix: config.redisPrefix,
    concurrency: PROVISION_CONCURRENCY,
    log,
  };
  const provisioner = startProvisionWorker(
    {
      ...bound,
      images,
      github,
      runners,
      ledger: shared.ledger,
      pools: shared.pools,
      crashLoops: shared.crashLoops,
      feed: shared.feed,
      githubWebUrl: config.github.webUrl,
      recheckAfterMs: config.recheckAfterMs,
      randomSuffix: randomRunnerSuffix,
      entryLockMs: config.provisionLockMs,
      fault: config.testFault && killAfter(config.testFault, log),
      metrics,
      log,
      now,
    },
    options,
  );
  stack.defer("provision worker", () => provisioner.close());
  const runnerOps = startStopRunnerWorker({ engine, runners, log }, options);
  stack.defer("runner-ops worker", () => runnerOps.close());
  const oomReruns = startOomRerunWorker({ github, store: shared.oomReruns.store, metrics, log, now }, options);
  stack.defer("oom-rerun worker", () => oomReruns.close());
  return provisioner;
}
