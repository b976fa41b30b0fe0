import { createHash } from "node:crypto";
import type { Pool } from "../config/pools.js";
import type { ExitReason } from "../docker/exit-reason.js";
import type { RunnerRecord } from "../state/runner-store.js";
import {
  CRASH_LOOP_FIRST_BACKOFF_MS,
  CRASH_LOOP_MAX_BACKOFF_MS,
  CRASH_LOOP_MEMORY_MS,
  CRASH_LOOP_THRESHOLD,
} from "../tunables.js";

/**
 * A pool whose runners die before they take a job (a broken image, a bad entrypoint, a runner that
 * cannot reach GitHub) would otherwise get a fresh registration on every reconcile pass, forever.
 * After CRASH_LOOP_THRESHOLD such deaths in a row the pool backs off: no runner is made for it
 * until the backoff ends, and each crash after a backoff doubles the next one, up to a ceiling.
 * A runner of the pool taking a job, a change of the pool in the pools file or an operator's reset
 * ends it; so does a quiet period without crashes. The decisions are here, without I/O; the state
 * lives in Redis (src/pools/crash-loop-store.ts).
 */

export interface CrashLoopPolicy {
  /** Crashes in a row before the first backoff. */
  threshold: number;
  firstBackoffMs: number;
  maxBackoffMs: number;
  /** A pool without a crash for this long starts afresh. */
  memoryMs: number;
}

/** The policy runnerhub runs with (the reasons for each value are in src/tunables.ts). */
export const CRASH_LOOP_POLICY: CrashLoopPolicy = {
  threshold: CRASH_LOOP_THRESHOLD,
  firstBackoffMs: CRASH_LOOP_FIRST_BACKOFF_MS,
  maxBackoffMs: CRASH_LOOP_MAX_BACKOFF_MS,
  memoryMs: CRASH_LOOP_MEMORY_MS,
};

/** What Redis keeps per pool (as JSON). */
export interface CrashLoopRecord {
  /** poolVersion() of the pool as declared when the crashes happened: a changed pool starts afresh. */
  poolVersion: string;
  /** Runners in a row that ended before taking a job. */
  crashes: number;
  /** Backoffs begun so far; the next one lasts twice as long as the last. */
  backoffs: number;
  /** No runner is made for the pool before this (ms); 0: no backoff begun. */
  backoffUntil: number;
  lastCrashAt: number;
  lastRunner: string;
  lastExitCode: number | null;
  lastReason: string;
}

export interface RunnerCrash {
  runnerName: string;
  exitCode: number | undefined;
  reason: ExitReason;
  at: number;
}

/** The exits that count: the container died on its own (not stopped by runnerhub) before its runner took a job. */
const CRASH_REASONS: ReadonlySet<ExitReason> = new Set(["crashed", "oom-killed", "never-started", "runner-outdated"]);

/**
 * Exits that back the pool off at once: GitHub refuses the runner's version, so every runner made
 * from the same image will be refused too, and waiting for CRASH_LOOP_THRESHOLD of them only
 * spends registrations.
 */
const CERTAIN_REASONS: ReadonlySet<ExitReason> = new Set(["runner-outdated"]);

/**
 * Whether a runner's end counts towards its pool's crash loop. An exit 0 does not: an ephemeral
 * runner exits 0 after its job even when the in_progress webhook has not arrived yet.
 */
export function crashedBeforeJob(record: RunnerRecord | undefined, reason: ExitReason): boolean {
  if (!record || record.retiring !== undefined) return false;
  return record.state !== "busy" && record.busyJobId === undefined && CRASH_REASONS.has(reason);
}

/** A short digest of the pool as the file declares it: a changed image, command or env is a new pool. */
export function poolVersion(pool: Pool): string {
  return createHash("sha256").update(JSON.stringify(pool)).digest("hex").slice(0, 16);
}

/** The record, if it still speaks for this version of the pool at this time. */
function current(record: CrashLoopRecord | undefined, version: string, now: number, policy: CrashLoopPolicy) {
  if (!record || record.poolVersion !== version || now - record.lastCrashAt > policy.memoryMs) return undefined;
  return record;
}

/** How long the n-th backoff (from 1) lasts: doubling from the first, capped. */
export function backoffMs(backoffs: number, policy: CrashLoopPolicy): number {
  return Math.min(policy.firstBackoffMs * 2 ** Math.max(0, backoffs - 1), policy.maxBackoffMs);
}

/**
 * The record after one more crash, and whether it began a backoff. Crashes during a backoff are of
 * runners made before it began (a burst, or another engine): they are counted, not punished again.
 */
export function afterCrash(
  previous: CrashLoopRecord | undefined,
  crash: RunnerCrash,
  version: string,
  policy: CrashLoopPolicy,
): { record: CrashLoopRecord; backoffBegun: boolean } {
  const base = current(previous, version, crash.at, policy);
  const crashes = (base?.crashes ?? 0) + 1;
  let backoffs = base?.backoffs ?? 0;
  let backoffUntil = base?.backoffUntil ?? 0;
  const backingOff = backoffUntil > crash.at;
  const backoffBegun = !backingOff && (crashes >= policy.threshold || CERTAIN_REASONS.has(crash.reason));
  if (backoffBegun) {
    backoffs += 1;
    backoffUntil = crash.at + backoffMs(backoffs, policy);
  }
  return {
    record: {
      poolVersion: version,
      crashes,
      backoffs,
      backoffUntil,
      lastCrashAt: crash.at,
      lastRunner: crash.runnerName,
      lastExitCode: crash.exitCode ?? null,
      lastReason: crash.reason,
    },
    backoffBegun,
  };
}

/** Until when provisioning for the pool waits (ms), or undefined when it may go ahead. */
export function backoffEnd(
  record: CrashLoopRecord | undefined,
  version: string,
  now: number,
  policy: CrashLoopPolicy,
): number | undefined {
  const live = current(record, version, now, policy);
  return live && live.backoffUntil > now ? live.backoffUntil : undefined;
}

/**
 * The crash loop as operators see it, or undefined for a healthy pool: a pool is crash-looping
 * from its first backoff until a runner takes a job, the pool changes, an operator resets it or
 * it stays quiet for the memory period (a backoff that ended only means the next runner is tried).
 */
export function crashLoopOf(
  record: CrashLoopRecord | undefined,
  version: string,
  now: number,
  policy: CrashLoopPolicy,
): CrashLoopRecord | undefined {
  const live = current(record, version, now, policy);
  return live && live.backoffs > 0 ? live : undefined;
}
