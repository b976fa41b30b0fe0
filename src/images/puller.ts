import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "pino";
import type { Pool } from "../config/pools.js";
import { credentialKeyFor, type RegistryAuths } from "../config/registry-auth.js";
import { PullError, type ImageEngine, type PullEvent } from "./image-engine.js";
import { swallowInto } from "../observability/internal-errors.js";
import type { Metrics } from "../observability/metrics.js";
import type { ImageStore } from "./image-store.js";
import {
  PULL_LOCK_POLL_MS,
  PULL_LOCK_TTL_MS,
  PULL_PROGRESS_LOG_MS,
  PULL_STALL_MS,
  PULL_TIMEOUT_MS,
} from "../tunables.js";
import {
  classifyPullFailure,
  decideImage,
  PullTally,
  pullRetryDelayMs,
  type ImageRecord,
  type PullFailure,
} from "./policy.js";

export type ImageReadiness = { kind: "ready" } | { kind: "unavailable"; retryAt: number; failure: PullFailure };

export interface ImagePuller {
  /**
   * Makes sure the pool's image is on the engine before anything is spent on a runner: pulls it
   * when the pool's policy says so (one pull per image and credentials at a time, in this process
   * and across processes on the engine), or answers when to try again after a failed pull. Pools
   * that pull one image with different credentials never share a pull: one pool's bad credentials
   * must not fail, nor its good ones vouch for, the other's.
   */
  ensure(pool: Pool, options?: { refresh?: boolean }): Promise<ImageReadiness>;
}

export interface ImagePullerDeps {
  engine: string;
  images: ImageEngine;
  store: ImageStore;
  auths: RegistryAuths;
  /** `always` images are re-pulled before a runner when their last pull is older than this. */
  refreshMs: number;
  metrics: Metrics;
  log: Logger;
  now: () => number;
  newToken: () => string;
}

export function emptyImageRecord(engine: string, image: string, now: number): ImageRecord {
  return {
    engine,
    image,
    lastPulledAt: undefined,
    seenAt: undefined,
    imageId: undefined,
    pulling: undefined,
    failure: undefined,
    poolImageAt: now,
    superseded: [],
  };
}

export function createImagePuller(deps: ImagePullerDeps): ImagePuller {
  const inFlight = new Map<string, Promise<ImageReadiness>>();
  return {
    ensure(pool, options = {}) {
      const credentials = credentialKeyFor(pool.image, deps.auths, pool.registryAuth);
      // `|` appears in neither an image reference nor an `auths` key.
      const key = `${pool.image}|${credentials ?? ""}`;
      const running = inFlight.get(key);
      if (running) return running;
      const flight = ensureOnce(deps, pool, credentials, options.refresh ?? false).finally(() => inFlight.delete(key));
      inFlight.set(key, flight);
      return flight;
    },
  };
}

/** Decides from the engine and the image's record, pulling when told to; waits out another process' pull of the same image. */
async function ensureOnce(
  deps: ImagePullerDeps,
  pool: Pool,
  credentials: string | undefined,
  refresh: boolean,
): Promise<ImageReadiness> {
  const { engine, images, store, log } = deps;
  const image = pool.image;
  const lockName = credentials ?? "";
  const deadline = deps.now() + PULL_TIMEOUT_MS;
  for (;;) {
    const [localId, stored] = await Promise.all([images.imageId(image), store.get(engine, image)]);
    // A failure of a pull with other credentials is that pull's, not this one's to wait out.
    const foreign = stored?.failure !== undefined && (stored.failure.credentials ?? "") !== lockName;
    const record = foreign ? { ...stored, failure: undefined } : stored;
    const now = deps.now();
    const decision = decideImage({ policy: pool.pull, localId, record, now, refreshMs: deps.refreshMs, refresh });
    if (decision.kind === "use") {
      // Written on a change only (first sight, or an image loaded after a failed pull), not per
      // runner; a failed re-pull of an `always` image stays visible until a pull succeeds.
      if (record === undefined || (record.failure !== undefined && pool.pull !== "always")) {
        await store.put({ ...(record ?? emptyImageRecord(engine, image, now)), failure: undefined, seenAt: now });
      }
      return { kind: "ready" };
    }
    if (decision.kind === "wait") return { kind: "unavailable", retryAt: decision.until, failure: decision.failure };
    if (decision.kind === "absent-never") {
      return recordNotOnEngine(deps, pool, record ?? emptyImageRecord(engine, image, now), lockName, now);
    }
    const token = deps.newToken();
    if (await store.lock(engine, image, lockName, token, PULL_LOCK_TTL_MS)) {
      try {
        const base = record ?? emptyImageRecord(engine, image, now);
        return await pullLocked(deps, { pool, record: base, localId, credentials, token });
      } finally {
        await store.unlock(engine, image, lockName, token);
      }
    }
    // Another process on this engine is pulling the image: wait for it, then look again.
    log.debug({ image, engine }, "another process is pulling the image; waiting for it");
    while ((await store.isLocked(engine, image, lockName)) && deps.now() < deadline) await delay(PULL_LOCK_POLL_MS);
    if (deps.now() >= deadline) throw new Error(`waited ${PULL_TIMEOUT_MS} ms for another process to pull ${image}`);
    // A refresh the other process just did counts for this caller too.
    refresh = false;
  }
}

/** A `pull: never` pool whose image the engine lacks: recorded as a failure to retry later. */
async function recordNotOnEngine(
  deps: ImagePullerDeps,
  pool: Pool,
  base: ImageRecord,
  lockName: string,
  now: number,
): Promise<ImageReadiness> {
  const image = pool.image;
  const attempts = (base.failure?.attempts ?? 0) + 1;
  const failure: PullFailure = {
    kind: "not-on-engine",
    message: `the engine has no ${image} and pool ${pool.name} says pull: never; load the image or set pull: missing`,
    attempts,
    at: now,
    nextRetryAt: now + pullRetryDelayMs(attempts),
    credentials: lockName,
  };
  await deps.store.put({ ...base, failure });
  deps.metrics.imagePullFailures.inc({ pool: pool.name, reason: failure.kind });
  deps.log.error({ image, engine: deps.engine, pool: pool.name, reason: failure.kind, attempts }, failure.message);
  return { kind: "unavailable", retryAt: failure.nextRetryAt, failure };
}

/** A pull under way: the pool's image, pulled holding the lock `token` for its credentials. */
interface LockedPull {
  pool: Pool;
  record: ImageRecord;
  localId: string | undefined;
  credentials: string | undefined;
  token: string;
  started: number;
}

/** Pulls the pool's image while holding its pull lock, and records the outcome. */
async function pullLocked(deps: ImagePullerDeps, locked: Omit<LockedPull, "started">): Promise<ImageReadiness> {
  const { engine, log } = deps;
  const started = deps.now();
  const pull: LockedPull = { ...locked, started };
  const { pool, record, localId, credentials } = pull;
  const image = pool.image;
  await deps.store.put({ ...record, pulling: leaseFrom(deps, started) });
  const renewal = setInterval(() => renewLease(deps, pull), PULL_LOCK_TTL_MS / 3);
  const watch = watchPull(deps, image, started);
  const credential = credentials === undefined ? undefined : deps.auths.get(credentials);
  log.info({ image, engine, pool: pool.name, withCredentials: credential !== undefined }, "pulling image");
  try {
    await deps.images.pull(image, credential, watch.onEvent, watch.signal);
  } catch (error) {
    return await recordPullFailure(deps, pull, error, watch.signal);
  } finally {
    clearInterval(renewal);
    watch.stop();
  }
  const newId = await deps.images.imageId(image);
  const now = deps.now();
  const moved = localId !== undefined && newId !== undefined && localId !== newId;
  await deps.store.put({
    ...record,
    lastPulledAt: now,
    imageId: newId,
    pulling: undefined,
    failure: undefined,
    poolImageAt: now,
    superseded: moved ? [...record.superseded, { id: localId, at: now }] : record.superseded,
  });
  const seconds = (now - started) / 1000;
  deps.metrics.imagePullSeconds.observe({ pool: pool.name, result: "success" }, seconds);
  log.info({ image, engine, pool: pool.name, seconds, updated: moved, ...watch.tally.summary() }, "image pulled");
  return { kind: "ready" };
}

/** The `pulling` mark of a pull started at `since`: other processes wait for it until the lock would lapse. */
function leaseFrom(deps: ImagePullerDeps, since: number): { since: number; until: number } {
  return { since, until: deps.now() + PULL_LOCK_TTL_MS };
}

/** Renews the pull lock and the record's `pulling` mark, so other processes keep waiting for this pull. */
function renewLease(deps: ImagePullerDeps, pull: LockedPull): void {
  const { engine, store, log, metrics } = deps;
  const image = pull.pool.image;
  void store
    .renew(engine, image, pull.credentials ?? "", pull.token, PULL_LOCK_TTL_MS)
    .then(() => store.put({ ...pull.record, pulling: leaseFrom(deps, pull.started) }))
    .catch(
      swallowInto(
        { log, metrics },
        {
          where: "images.renew-pull-lock",
          message: "could not renew the pull lock; another process may start the same pull",
          fields: { image },
        },
      ),
    );
}

/**
 * Aborts a pull with no result within PULL_TIMEOUT_MS, or no progress for PULL_STALL_MS, and
 * logs its progress every PULL_PROGRESS_LOG_MS.
 */
function watchPull(deps: ImagePullerDeps, image: string, started: number) {
  const controller = new AbortController();
  const overall = setTimeout(
    () => controller.abort(new Error(`no result within ${PULL_TIMEOUT_MS} ms`)),
    PULL_TIMEOUT_MS,
  );
  let stall = setTimeout(() => controller.abort(new Error(`no progress for ${PULL_STALL_MS} ms`)), PULL_STALL_MS);
  const tally = new PullTally();
  let loggedAt = started;
  const onEvent = (event: PullEvent) => {
    clearTimeout(stall);
    stall = setTimeout(() => controller.abort(new Error(`no progress for ${PULL_STALL_MS} ms`)), PULL_STALL_MS);
    tally.add(event);
    if (deps.now() - loggedAt >= PULL_PROGRESS_LOG_MS) {
      loggedAt = deps.now();
      deps.log.info({ image, engine: deps.engine, ...tally.summary() }, "pulling image");
    }
  };
  const stop = () => {
    clearTimeout(overall);
    clearTimeout(stall);
  };
  return { signal: controller.signal, onEvent, tally, stop };
}

/** Records a failed pull; the pool's runners wait for the retry unless the engine has a copy. */
async function recordPullFailure(
  deps: ImagePullerDeps,
  pull: LockedPull,
  error: unknown,
  signal: AbortSignal,
): Promise<ImageReadiness> {
  const { pool, record, localId } = pull;
  const seconds = (deps.now() - pull.started) / 1000;
  deps.metrics.imagePullSeconds.observe({ pool: pool.name, result: "failure" }, seconds);
  const detail = error instanceof PullError ? error.detail : (error as Error).message;
  const reason = signal.aborted ? String((signal.reason as Error).message) : detail;
  const kind = classifyPullFailure(error instanceof PullError ? error.statusCode : undefined, detail, signal.aborted);
  const attempts = (record.failure?.attempts ?? 0) + 1;
  const now = deps.now();
  const failure: PullFailure = {
    kind,
    message: reason,
    attempts,
    at: now,
    nextRetryAt: now + pullRetryDelayMs(attempts),
    credentials: pull.credentials ?? "",
  };
  await deps.store.put({ ...record, pulling: undefined, failure });
  deps.metrics.imagePullFailures.inc({ pool: pool.name, reason: kind });
  deps.log.error(
    {
      image: pool.image,
      engine: deps.engine,
      pool: pool.name,
      reason: kind,
      message: reason,
      attempts,
      retryInMs: failure.nextRetryAt - now,
    },
    localId === undefined
      ? "image pull failed; the pool's runners wait for the retry, no registration is made"
      : "image re-pull failed; runners keep using the local copy",
  );
  return localId === undefined ? { kind: "unavailable", retryAt: failure.nextRetryAt, failure } : { kind: "ready" };
}
