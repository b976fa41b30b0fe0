import { DelayedError, Worker, type Job } from "bullmq";
import { secondsBetween } from "../observability/metrics.js";
import { backoffEnd, poolVersion } from "../pools/crash-loop.js";
import type { Pool } from "../config/pools.js";
import { PROVISION_QUEUE, type ProvisionRequest } from "../queue/jobs.js";
import type { WorkerOptions } from "../queue/queues.js";
import {
  ENGINE_FULL_RETRY_MS,
  MAX_PLACEMENT_HANDOFFS,
  NO_ENGINE_RETRY_MS,
  PARK_FALLBACK_MS,
  PLACEMENT_HANDOFF_MS,
} from "../tunables.js";
import type { CrashLoopStore } from "../pools/crash-loop-store.js";
import { provisionRunner, type ProvisionDeps } from "./provision.js";
import { repositoryOf } from "../pools/fair-share.js";
import { overflowDemand } from "./overflow-demand.js";
import { GitHubBudgetSpent } from "../github/budget.js";

export interface ProvisionWorkerDeps extends ProvisionDeps {
  /** Pools whose runners keep ending before a job: their demand waits out the backoff. */
  crashLoops: Pick<CrashLoopStore, "get" | "policy">;
}

/** Until when the pool's provisioning backs off because its runners crash before taking a job. */
async function crashLoopBackoff(poolName: string, deps: ProvisionWorkerDeps): Promise<number | undefined> {
  const pool = deps.pools.find(poolName);
  if (!pool) return undefined;
  return backoffEnd(await deps.crashLoops.get(pool.name), poolVersion(pool), deps.now(), deps.crashLoops.policy);
}

async function provisionOrPark(job: Job<ProvisionRequest>, token: string | undefined, deps: ProvisionWorkerDeps) {
  const pool = job.data.pool;
  const backoffUntil = await crashLoopBackoff(pool, deps);
  if (backoffUntil !== undefined && job.id !== undefined) {
    // Not a failed attempt, and no registration is spent: the entry sleeps through the backoff
    // (and, delayed, keeps the reconciler from queueing the same demand again). Before the
    // queue-wait reading, which a deferred entry takes when it is finally taken up.
    deps.log.info(
      { pool, jobId: job.data.githubJobId, queueJobId: job.id, until: new Date(backoffUntil).toISOString() },
      "pool is crash-looping; demand waits for the backoff to end",
    );
    await job.moveToDelayed(backoffUntil, token);
    throw new DelayedError();
  }
  // Taken up for the first time: neither parked nor retried before.
  if (job.data.parkedAt === undefined && job.data.handoffs === undefined && job.attemptsMade === 0) {
    const enqueuedAt = job.data.enqueuedAt ?? job.timestamp;
    deps.metrics.queueWaitSeconds.observe({ pool }, secondsBetween(enqueuedAt, deps.now()));
  }
  // BullMQ counts every take-up, this one included.
  const outcome = await provisionRunner(job.data, deps, job.id, job.attemptsStarted > 1).catch((error: unknown) => {
    if (!(error instanceof GitHubBudgetSpent) || job.id === undefined) throw error;
    return { kind: "budget-spent" as const, retryAt: deps.now() + Math.max(error.retryInMs, 1) };
  });
  if (outcome.kind === "budget-spent") {
    // Not a failed attempt and no registration spent: the place goes to other installations'
    // entries while this installation's budget refills (the slot went back before the throw).
    deps.log.info(
      { pool, jobId: job.data.githubJobId, queueJobId: job.id, until: new Date(outcome.retryAt).toISOString() },
      "installation's GitHub budget spent; demand waits for the refill",
    );
    await job.moveToDelayed(outcome.retryAt, token);
    throw new DelayedError();
  }
  if (outcome.kind === "image-unavailable" && job.id !== undefined) {
    // Not a failed attempt: the demand stays queued until the image's backoff runs out.
    await job.moveToDelayed(Math.max(outcome.retryAt, deps.now() + 1), token);
    throw new DelayedError();
  }
  if (outcome.kind === "elsewhere" && job.id !== undefined) {
    // Back on the queue at once for the engine placement prefers; an engine that may not take the
    // pool at all slows down once the hand-offs run out (its preferred engines are all full).
    const handoffs = (job.data.handoffs ?? 0) + 1;
    await job.updateData({ ...job.data, handoffs });
    const slow = !outcome.eligibleHere && handoffs >= MAX_PLACEMENT_HANDOFFS;
    await job.moveToDelayed(deps.now() + (slow ? ENGINE_FULL_RETRY_MS : PLACEMENT_HANDOFF_MS), token);
    throw new DelayedError();
  }
  if (outcome.kind !== "waiting" || job.id === undefined) return outcome;
  if (outcome.reason === "no-engine") {
    // Not parked: no release here can help; an engine that comes or is undrained takes it on the next look.
    await job.moveToDelayed(deps.now() + NO_ENGINE_RETRY_MS, token);
    throw new DelayedError();
  }
  // A repository at its ceiling stays in its pool (the share is the pool's rule) and waits on
  // the pool: its turn comes when one of its slots frees.
  const moved = outcome.reason === "repo-full" ? undefined : await overflowDemand(job.data, outcome.reason, deps);
  if (moved) {
    // Tried at once in the other pool (it had room); a job overflows once, so this ends.
    await job.updateData({ ...moved, parkedAt: job.data.parkedAt ?? deps.now() });
    return provisionOrPark(job, token, deps);
  }
  const poolFull = outcome.reason !== "engine-full";
  if (job.data.parkedAt === undefined) await job.updateData({ ...job.data, parkedAt: deps.now() });
  // Delayed first, parked second: a release only ever pops a parked entry that is already
  // delayed, so it can always promote it. (Parked first, a release between the two steps popped
  // an entry it could not promote, and the wake-up was lost until the safety net.) A release
  // before the entry is parked finds nothing to wake; the re-check below catches it.
  await job.moveToDelayed(deps.now() + (poolFull ? PARK_FALLBACK_MS : ENGINE_FULL_RETRY_MS), token);
  const declared = deps.pools.find(pool);
  // A fair-share pool's demand waits on its repository's turn (round-robin between repositories).
  const repository = poolFull && declared?.perRepository ? repositoryOf(job.data) : undefined;
  await deps.slots.park(
    poolFull ? "pool" : "engine",
    poolFull ? pool : deps.slots.engine.name,
    job.id,
    job.data.queuedAt,
    repository,
  );
  const slotPool = { name: pool, maxRunners: declared?.maxRunners ?? 0, perRepository: declared?.perRepository };
  if (await deps.slots.hasRoom(slotPool, repositoryOf(job.data))) await deps.slots.wake(pool);
  else if (outcome.reason !== "repo-full" && job.data.overflowedFrom === undefined) {
    await wakeIfOverflowHasRoom(declared, deps);
  }
  throw new DelayedError();
}

/** The provisioner: takes demand from the shared queue and starts runners on this engine. */
export function startProvisionWorker(deps: ProvisionWorkerDeps, options: WorkerOptions): Worker<ProvisionRequest> {
  const worker = new Worker<ProvisionRequest>(PROVISION_QUEUE, (job, token) => provisionOrPark(job, token, deps), {
    connection: options.connection,
    prefix: options.prefix,
    concurrency: options.concurrency,
    // An entry whose worker died is run again once its lock expires (the re-run adopts or
    // withdraws what the dead worker left); the stall check runs as often as the lock lasts.
    ...(deps.entryLockMs === undefined ? {} : { lockDuration: deps.entryLockMs, stalledInterval: deps.entryLockMs }),
  });
  worker.on("failed", (job, error) =>
    options.log.warn(
      {
        err: error,
        pool: job?.data.pool,
        jobId: job?.data.githubJobId,
        deliveryId: job?.data.deliveryId,
        queueJobId: job?.id,
        attempt: job?.attemptsMade,
      },
      "provisioning attempt failed",
    ),
  );
  return worker;
}

/**
 * A slot of the overflow pool freed after overflowDemand found it full and before this entry was
 * parked woke nobody here; its wake is repeated now that the entry is parked.
 */
async function wakeIfOverflowHasRoom(pool: Pool | undefined, deps: ProvisionWorkerDeps): Promise<void> {
  const to = pool?.overflow === undefined ? undefined : deps.pools.find(pool.overflow);
  if (to && (await deps.slots.hasRoom(to))) await deps.slots.wake(to.name);
}
