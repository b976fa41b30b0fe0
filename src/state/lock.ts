import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { LOCK_RENEWALS_PER_LEASE } from "../tunables.js";
import { defineScripts } from "./scripts/index.js";

/** The lock work ran under was lost mid-way: another process may hold it and act now. */
export class LockLost extends Error {
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(
      `lock ${key} was lost while its work ran (${reason}); the work's remaining writes are left to its next holder`,
    );
    this.name = "LockLost";
  }
}

/** What work under a lock can ask of its hold on the lock. */
export interface Lease {
  /** Aborted, with a LockLost as its reason, once the lock is known lost. */
  readonly signal: AbortSignal;
  /** Throws LockLost once the lock is known lost: called before each write that needs the lock. */
  assertHeld(): void;
}

/**
 * Runs work under a Redis lock (SET NX with a TTL, released only by its holder); undefined, with
 * nothing run, when another process holds it. The TTL bounds how long a crashed holder blocks;
 * while the work runs the lease is renewed (LOCK_RENEWALS_PER_LEASE times per lease), so slow
 * work (a GitHub call up to its deadline) never outlives its lock and lets a second holder in.
 * When a renewal finds the lock gone or taken, or the lease runs out unrenewed (Redis
 * unreachable), the work's Lease says so: it checks `assertHeld()` before its writes, or hands
 * `signal` to what it waits on.
 */
export async function underLock<T>(
  redis: Redis,
  key: string,
  ms: number,
  work: (lease: Lease) => Promise<T>,
): Promise<T | undefined> {
  const token = randomUUID();
  if ((await redis.set(key, token, "PX", ms, "NX")) !== "OK") return undefined;
  const scripts = defineScripts(redis);
  const lost = new AbortController();
  const lose = (reason: string) => {
    if (!lost.signal.aborted) lost.abort(new LockLost(key, reason));
  };
  let lastRenewalError: unknown;
  const leaseEnds = (inMs: number) =>
    setTimeout(() => {
      const why = lastRenewalError instanceof Error ? `; last renewal failed: ${lastRenewalError.message}` : "";
      lose(`not renewed within its ${ms} ms lease${why}`);
    }, inMs);
  // The lease counts from when the lock was taken, then from when each successful renewal was sent.
  let expiry = leaseEnds(ms);
  let renewing = false;
  let done = false;
  const renew = async () => {
    if (renewing || done || lost.signal.aborted) return;
    renewing = true;
    const sentAt = performance.now();
    try {
      const renewed = await scripts.runnerhubRenewLock(key, token, ms);
      // A renewal answered after the work ended must not start a new lease timer.
      if (done) return;
      if (renewed === 1) {
        clearTimeout(expiry);
        expiry = leaseEnds(Math.max(0, ms - (performance.now() - sentAt)));
      } else {
        lose("it expired or another process holds it");
      }
    } catch (error) {
      // Kept for the LockLost the lease's end raises: a later renewal may still succeed in time.
      lastRenewalError = error;
    } finally {
      renewing = false;
    }
  };
  const renewals = setInterval(() => void renew(), Math.max(1, Math.floor(ms / LOCK_RENEWALS_PER_LEASE)));
  const lease: Lease = {
    signal: lost.signal,
    assertHeld() {
      if (lost.signal.aborted) throw lost.signal.reason as LockLost;
    },
  };
  try {
    return await work(lease);
  } finally {
    done = true;
    clearInterval(renewals);
    clearTimeout(expiry);
    await scripts.runnerhubReleaseLock(key, token);
  }
}
