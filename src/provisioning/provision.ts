import type { Logger } from "pino";
import type { Pool } from "../config/pools.js";
import type { ProvisionStep } from "../config/test-fault.js";
import type { ContainerEngine } from "../docker/engine.js";
import { runnerContainerSpec } from "../docker/runner-spec.js";
import type { RunnersApi } from "../github/runners-api.js";
import { describeScope, type RunnerTarget } from "../scope/runner-scope.js";
import type { ImagePuller } from "../images/puller.js";
import { swallowInto } from "../observability/internal-errors.js";
import { secondsBetween, type Metrics } from "../observability/metrics.js";
import type { PoolCatalog } from "../pools/catalog.js";
import { runnerName } from "../pools/runner-names.js";
import { ofSize, sizedPool } from "../pools/sizes.js";
import { freeRunners, unservedJobs } from "../pools/supply.js";
import { repositoryDemand, repositoryOf, runnerScope } from "../pools/fair-share.js";
import type { ProvisionRequest } from "../queue/jobs.js";
import type { DemandLedger } from "../state/demand-ledger.js";
import type { EventFeed } from "../state/event-feed.js";
import { isOnEngine, type RunnerRecord, type RunnerStore } from "../state/runner-store.js";
import type { EngineSlots } from "../slots/slots.js";
import { observeRunnerOnline } from "./runner-online.js";
import { BelowRateLimitFloor } from "../github/octokit.js";
import { JOB_STATUS_CACHE_MS } from "../tunables.js";
import { admitHere, placementCandidatesFor, type NotPlacedHere, type PlacementDeps } from "./placement-step.js";
import type { EngineState } from "../placement/placement.js";

export interface ProvisionDeps {
  github: RunnersApi;
  engine: ContainerEngine;
  /** The engine's Docker ID, written into each record (tells runners of two engines under one name apart). */
  engineId: string;
  /**
   * False once another engine took this one's name: no container starts from then on (checked
   * right before a slot is made permanent, the last step before a container exists).
   */
  ownsEngine: () => boolean;
  /** Puts the pool's image on the engine before any registration is spent. */
  images: ImagePuller;
  runners: RunnerStore;
  ledger: DemandLedger;
  pools: PoolCatalog;
  /** The pool and engine ceilings, bound to this worker's engine. */
  slots: EngineSlots;
  /** GitHub's web address (https://github.com or the GHES host), for token-style runner images. */
  githubWebUrl: string;
  /** Demand older than this is checked against GitHub before a runner is made for it. */
  recheckAfterMs: number;
  feed: EventFeed;
  metrics: Metrics;
  log: Logger;
  now: () => number;
  /** Suffixes of new runner names (randomRunnerSuffix in production). */
  randomSuffix: () => string;
  /** How long a worker's hold on a queue entry lasts without renewal (RUNNERHUB_PROVISION_LOCK; BullMQ's 30 s when undefined). */
  entryLockMs?: number;
  /** A test-only fault point (RUNNERHUB_TEST_FAULT); does nothing in production. */
  fault?: (step: ProvisionStep) => void;
  /** Placement across engines and resource admission; absent (unit tests of one engine): every runner starts here. */
  placement?: PlacementDeps;
}

export type ProvisionOutcome =
  | { kind: "started"; runnerName: string; containerId: string }
  | { kind: "skipped"; reason: "pool-removed" | "demand-met" }
  | { kind: "waiting"; reason: "repo-full" | "pool-full" | "engine-full" | "no-engine" }
  | Extract<NotPlacedHere, { kind: "elsewhere" }>
  | { kind: "image-unavailable"; retryAt: number };

const STILL_WAITING = new Set(["queued", "waiting", "pending", "requested"]);

async function registrationEnv(
  pool: Pool,
  target: RunnerTarget,
  runner: { name: string; labels: string[] },
  deps: ProvisionDeps,
): Promise<{ runnerId: number | undefined; env: Record<string, string> }> {
  if (pool.registration === "jit") {
    const runnerGroupId = await deps.github.runnerGroupId(target, pool.runnerGroup);
    const jit = await deps.github.generateJitConfig(target, {
      name: runner.name,
      runnerGroupId,
      labels: runner.labels,
    });
    return { runnerId: jit.runnerId, env: { ACTIONS_RUNNER_INPUT_JITCONFIG: jit.encodedJitConfig } };
  }
  const token = await deps.github.createRegistrationToken(target);
  const { scope } = target;
  return {
    runnerId: undefined,
    env: {
      RUNNER_TOKEN: token,
      RUNNER_SCOPE: scope.kind,
      ...(scope.kind === "org"
        ? { ORG_NAME: scope.org }
        : { REPO_URL: `${deps.githubWebUrl}/${scope.owner}/${scope.repo}` }),
      RUNNER_NAME: runner.name,
      LABELS: runner.labels.join(","),
      RUNNER_GROUP: pool.runnerGroup,
      EPHEMERAL: "true",
      DISABLE_AUTO_UPDATE: "true",
      // The registration token is good for an hour of registering runners: jobs must not read it.
      UNSET_CONFIG_VARS: "true",
    },
  };
}

/**
 * Whether the pool still has a job no runner is coming for, as the webhooks tell it (no GitHub
 * call): jobs were taken or cancelled, and runners are on their way or idle.
 */
async function demandOpen(
  request: ProvisionRequest,
  pool: Pool,
  deps: ProvisionDeps,
  log: Logger,
  entry: string | undefined,
): Promise<{ waiting: number; free: number } | undefined> {
  const { size } = request;
  // Sized demand is weighed against runners of its size, a fair-share pool's per repository: both need the jobs, not a count.
  const [waitingJobs, records] = await Promise.all([
    pool.perRepository || size !== undefined
      ? deps.ledger.waiting(pool.name, deps.now()).then((jobs) => (size === undefined ? jobs : ofSize(jobs, size)))
      : deps.ledger.waitingCount(pool.name),
    deps.runners.listFree(pool.name).then((free) => (size === undefined ? free : ofSize(free, size))),
  ]);
  // An unfinished runner of this very entry (left on another engine by a killed worker) is no
  // runner coming for this demand: that entry is being run again right here.
  const unfinished = (record: RunnerRecord) => record.provisionEntry === entry && record.containerId === undefined;
  const freeRecords = freeRunners(
    pool.name,
    records.filter((record) => entry === undefined || !unfinished(record)),
  );
  // A fair-share pool's runners serve only their own repository's jobs.
  const { waiting, free } =
    typeof waitingJobs === "number"
      ? { waiting: waitingJobs, free: freeRecords.length }
      : pool.perRepository
        ? repositoryDemand(repositoryOf(request), waitingJobs, freeRecords)
        : { waiting: waitingJobs.length, free: freeRecords.length };
  if (unservedJobs(waiting, free) > 0) return { waiting, free };
  log.info({ waiting, free }, "every waiting job of the pool has a runner coming; none made");
  return undefined;
}

/**
 * Whether GitHub still has the job queued, asked only once a slot is held (demand parked on a
 * full pool or engine asks nothing) and only for demand older than recheckAfterMs, in case the
 * webhook that settled it was lost. The answer is kept per job (JOB_STATUS_CACHE_MS), and below
 * the rate-limit floor the check is skipped: the job is assumed queued, which at worst makes a
 * runner the reconciler retires.
 */
async function stillQueued(
  request: ProvisionRequest,
  pool: Pool,
  open: { waiting: number; free: number },
  deps: ProvisionDeps,
  log: Logger,
): Promise<boolean> {
  if (deps.now() - request.queuedAt <= deps.recheckAfterMs) return true;
  let status = await deps.ledger.knownStatus(request.githubJobId);
  if (status === undefined) {
    try {
      status = await deps.github.jobStatus(request.installationId, request.owner, request.repo, request.githubJobId);
    } catch (error) {
      if (!(error instanceof BelowRateLimitFloor)) throw error;
      log.info({ remaining: error.remaining }, "GitHub budget below its floor; job status not checked");
      return true;
    }
    await deps.ledger.rememberStatus(request.githubJobId, status, JOB_STATUS_CACHE_MS);
  }
  if (STILL_WAITING.has(status)) return true;
  await deps.ledger.settled(pool.name, request.githubJobId);
  log.info({ status }, "job no longer queued at GitHub");
  return unservedJobs(open.waiting - 1, open.free) > 0;
}

/**
 * Takes a runner back that could not be made (or whose making was interrupted): container,
 * registration, record and slot, in that order, so nothing is left that counts as a runner.
 */
async function withdraw(
  record: { name: string; pool: string; runnerId: number | undefined; target: RunnerTarget; githubJobId: number },
  containerId: string | undefined,
  reason: string,
  deps: ProvisionDeps,
  log: Logger,
): Promise<void> {
  if (containerId !== undefined) await deps.engine.remove(containerId);
  if (record.runnerId !== undefined) {
    await deps.github.deleteRunner(record.target, record.runnerId).catch(
      swallowInto(
        { log, metrics: deps.metrics },
        {
          where: "provision.withdraw-registration",
          message: "could not withdraw the registration; the reconciler will",
          fields: { runnerId: record.runnerId },
        },
      ),
    );
  }
  await deps.runners.retire(record.name, { exitedAt: deps.now(), exitCode: undefined, oomKilled: false, reason });
  await deps.slots.release(record.pool, record.name);
  await deps.feed.record({
    kind: "removed",
    pool: record.pool,
    runnerName: record.name,
    engine: deps.engine.name,
    jobId: record.githubJobId,
    reason,
  });
}

/**
 * A re-run of a provision entry whose worker was killed mid-way finds what that worker left on
 * this engine: a runner it finished is the entry's outcome; a started container is adopted (its
 * slot was confirmed before it started); anything less is withdrawn, and provisioning starts over.
 * Leftovers are looked for among the pool's free runners: one that already took a job is the
 * pool's like any other, and the demand check after this counts the job it took.
 */
async function resumeEntry(
  entry: string,
  pool: Pool,
  deps: ProvisionDeps,
  log: Logger,
): Promise<ProvisionOutcome | undefined> {
  const leftovers = (await deps.runners.listFree(pool.name)).filter(
    (record) => record.provisionEntry === entry && isOnEngine(record, deps.engine.name, deps.engineId),
  );
  if (leftovers.length === 0) return undefined;
  const containers = await deps.engine.listManaged();
  for (const record of leftovers) {
    const container = containers.find((candidate) => candidate.name === record.name);
    // Only a running container keeps its slot; anything less is withdrawn, slot and all.
    const kept =
      container?.state === "running" && (await deps.slots.confirm(pool, record.name, record.repository)) === "ok";
    if (container && kept) {
      if (record.containerId === undefined) {
        await deps.runners.update(record.name, { containerId: container.id, startedAt: deps.now() });
        log.warn({ runnerName: record.name, containerId: container.id }, "interrupted provisioning: container adopted");
      }
      return { kind: "started", runnerName: record.name, containerId: container.id };
    }
    log.warn(
      { runnerName: record.name, step: record.runnerId === undefined ? "record" : "registration" },
      "interrupted provisioning: leftovers withdrawn",
    );
    const target = { installationId: record.installationId, scope: record.scope };
    await withdraw({ ...record, target }, container?.id, "interrupted", deps, log);
  }
  return undefined;
}

/**
 * Takes the runner's slot; undefined once it is held, else why the demand waits or is met. The
 * demand is checked against GitHub only with the slot held, and an unused slot goes back.
 */
async function takeSlot(
  request: ProvisionRequest,
  pool: Pool,
  name: string,
  open: { waiting: number; free: number },
  candidates: readonly EngineState[] | undefined,
  deps: ProvisionDeps,
  log: Logger,
): Promise<ProvisionOutcome | undefined> {
  const reservation = await deps.slots.reserve(pool, name, repositoryOf(request));
  if (reservation !== "ok") {
    log.info({ reason: reservation }, "no capacity; demand waits for a slot");
    return { kind: "waiting", reason: reservation };
  }
  if (deps.placement && candidates) {
    const notHere = await admitHere(name, pool, deps.engine.name, candidates, request.handoffs ?? 0, deps.placement);
    if (notHere) {
      await deps.slots.release(pool.name, name);
      log.debug({ outcome: notHere }, "runner not admitted on this engine");
      return notHere;
    }
  }
  if (request.githubJobId > 0) {
    // The slot is held from here: whatever the check says or throws, an unused one goes back.
    const queued = await stillQueued(request, pool, open, deps, log).catch(async (error: unknown) => {
      await deps.slots.release(pool.name, name);
      throw error;
    });
    if (!queued) {
      await deps.slots.release(pool.name, name);
      return { kind: "skipped", reason: "demand-met" };
    }
  }
  const reservedAt = deps.now();
  deps.metrics.capacityWaitSeconds.observe(
    { pool: pool.name },
    secondsBetween(request.parkedAt ?? reservedAt, reservedAt),
  );
  return undefined;
}

function newRecord(
  request: ProvisionRequest,
  pool: Pool,
  name: string,
  entry: string | undefined,
  deps: ProvisionDeps,
): RunnerRecord {
  return {
    name,
    pool: pool.name,
    engine: deps.engine.name,
    engineId: deps.engineId,
    installationId: request.installationId,
    scope: runnerScope(pool, request),
    githubJobId: request.githubJobId,
    runnerId: undefined,
    containerId: undefined,
    state: "starting",
    busyJobId: undefined,
    createdAt: deps.now(),
    completedAt: undefined,
    repository: `${request.owner}/${request.repo}`,
    provisionEntry: entry,
    ...(request.size === undefined ? {} : { size: request.size }),
  };
}

/**
 * Registers the runner at GitHub, makes its slot permanent and starts its container. On any
 * failure the registration is withdrawn and the slot freed before the error is thrown on.
 */
async function registerAndStart(
  request: ProvisionRequest,
  pool: Pool,
  name: string,
  deps: ProvisionDeps,
  runnerLog: Logger,
): Promise<{ runnerId: number | undefined; containerId: string }> {
  const target: RunnerTarget = { installationId: request.installationId, scope: runnerScope(pool, request) };
  let runnerId: number | undefined;
  let containerId: string | undefined;
  try {
    const registering = deps.now();
    const registration = await registrationEnv(pool, target, { name, labels: pool.labels }, deps);
    deps.metrics.jitConfigSeconds.observe({ pool: pool.name }, secondsBetween(registering, deps.now()));
    runnerId = registration.runnerId;
    if (runnerId !== undefined) await deps.runners.update(name, { runnerId });
    deps.fault?.("registered");
    // The slot is made permanent before the container starts: a worker killed in between leaves
    // a record without a container (withdrawn by the entry's re-run, or forgotten by the
    // reconciler), never a running runner whose lease has expired and that holds no slot.
    if (!deps.ownsEngine()) {
      throw new Error(`another engine took the name "${deps.engine.name}"; this worker starts no runner`);
    }
    const confirmed = await deps.slots.confirm(pool, name, repositoryOf(request));
    if (confirmed !== "ok") {
      throw new Error(`the reservation of ${name} expired while it was being made and the ${confirmed} slot is taken`);
    }
    deps.fault?.("slot-confirmed");
    const starting = deps.now();
    containerId = await deps.engine.startContainer(
      runnerContainerSpec({
        name,
        pool,
        runnerId,
        githubJobId: request.githubJobId,
        owner: request.owner,
        repo: target.scope.kind === "repo" ? target.scope.repo : undefined,
        installationId: request.installationId,
        registrationEnv: registration.env,
      }),
    );
    deps.metrics.containerStartSeconds.observe({ pool: pool.name }, secondsBetween(starting, deps.now()));
    deps.fault?.("container-started");
    return { runnerId, containerId };
  } catch (error) {
    deps.metrics.provisionFailures.inc({ pool: pool.name });
    runnerLog.error({ err: error, runnerId }, "runner failed to start; registration withdrawn, slot freed");
    const record = { name, pool: pool.name, runnerId, target, githubJobId: request.githubJobId };
    await withdraw(record, containerId, "start-failed", deps, runnerLog);
    throw error;
  }
}

/** Turns one unit of demand into a registered runner in a started container. */
export async function provisionRunner(
  request: ProvisionRequest,
  deps: ProvisionDeps,
  /** The provision-queue entry being run: its re-runs recognise what earlier runs left. */
  entry?: string,
  /**
   * Whether this entry was taken up before (a killed worker, a parked wake-up, a retry): only then
   * can an earlier run have left something, and only then are the pool's runners searched for it.
   */
  rerun = true,
): Promise<ProvisionOutcome> {
  const log = deps.log.child({
    pool: request.pool,
    jobId: request.githubJobId,
    deliveryId: request.deliveryId,
    scope: describeScope(request.scope),
  });
  const declared = deps.pools.find(request.pool);
  // A sized runner registers with its size's label and gets the size's resources.
  const pool = declared && sizedPool(declared, request.size, request.labels);
  if (!pool) {
    log.warn("pool no longer configured; demand dropped");
    return { kind: "skipped", reason: "pool-removed" };
  }

  const resumed = entry === undefined || !rerun ? undefined : await resumeEntry(entry, pool, deps, log);
  if (resumed) return resumed;

  const placed = deps.placement && (await placementCandidatesFor(pool, deps.engine.name, deps.placement, deps.now()));
  if (placed && placed.kind !== "candidates") {
    log.debug({ outcome: placed }, "runner not placed on this engine");
    return placed;
  }

  // No GitHub registration is spent before the runner's image is on the engine. The image check
  // (Docker) and the demand check (Redis) read different things, so they run side by side.
  const [image, open] = await Promise.all([
    deps.images.ensure(pool),
    request.githubJobId > 0 ? demandOpen(request, pool, deps, log, entry) : { waiting: 0, free: 0 },
  ]);
  if (image.kind === "unavailable") {
    log.warn(
      { image: pool.image, reason: image.failure.kind, retryAt: new Date(image.retryAt).toISOString() },
      "the pool's image is not on the engine; demand waits for the next pull attempt",
    );
    return { kind: "image-unavailable", retryAt: image.retryAt };
  }

  if (!open) return { kind: "skipped", reason: "demand-met" };

  const name = runnerName(pool.name, deps.randomSuffix());
  const waiting = await takeSlot(request, pool, name, open, placed?.engines, deps, log);
  if (waiting) return waiting;
  // The record exists before GitHub knows the runner, so the reconciler never mistakes a
  // registration in the making for an orphan.
  await deps.runners.put(newRecord(request, pool, name, entry, deps));
  deps.fault?.("record-written");
  const runnerLog = log.child({ runnerName: name });
  const { runnerId, containerId } = await registerAndStart(request, pool, name, deps, runnerLog);
  const startedAt = deps.now();
  const started = await deps.runners.update(name, { containerId, startedAt });
  // A fast runner may have taken its job before its start time was written.
  if (started) await observeRunnerOnline(started, deps);
  deps.metrics.runnersCreated.inc({ pool: pool.name });
  await deps.feed.record({
    kind: "runner-created",
    pool: pool.name,
    runnerName: name,
    engine: deps.engine.name,
    jobId: request.githubJobId,
    repository: `${request.owner}/${request.repo}`,
  });
  deps.metrics.provisionSeconds.observe({ pool: pool.name }, secondsBetween(request.queuedAt, startedAt));
  runnerLog.info({ runnerId, containerId }, "runner started");
  return { kind: "started", runnerName: name, containerId };
}
