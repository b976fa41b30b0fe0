import { poolPlacementView } from "./placement-views.js";
import { RUNNER_OUTDATED_FIX } from "../docker/exit-reason.js";
import type { z } from "zod";
import type { Pool } from "../config/pools.js";
import { effectivePool, type PoolOverride } from "../pools/overrides.js";
import type { ImageRecord } from "../images/policy.js";
import type { CrashLoopRecord } from "../pools/crash-loop.js";
import type { WarmTarget } from "../pools/warm-target.js";
import { CRASH_LOOP_LOG_LINES } from "../tunables.js";
import type { RunnerExitRecord, RunnerRecord } from "../state/runner-store.js";
import type {
  CrashLoopView,
  EngineView,
  FieldProblem,
  ImageStatusView,
  JobView,
  PoolCounts,
  PoolView,
  RunnerDetail,
  RunnerView,
} from "./schemas.js";

/** What the admin API shows is computed here from snapshots, without I/O, so it is unit-tested. */

export interface PoolSnapshot {
  runners: readonly Pick<RunnerRecord, "pool" | "state">[];
  /** The pool's jobs that GitHub reports queued and no runner has taken yet (the demand ledger). */
  waiting: number;
  slotsHeld: number;
  parked: number;
}

export function poolCounts(pool: string, snapshot: PoolSnapshot): PoolCounts {
  const counts: PoolCounts = {
    starting: 0,
    idle: 0,
    busy: 0,
    waiting: snapshot.waiting,
    slotsHeld: snapshot.slotsHeld,
    parked: snapshot.parked,
  };
  for (const runner of snapshot.runners) {
    if (runner.pool === pool) counts[runner.state] += 1;
  }
  return counts;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** One engine's view of an image: a live pull lease wins, then a failure, then presence. */
export function imageStatusView(record: ImageRecord, now: number): ImageStatusView {
  const failure = record.failure;
  const state =
    record.pulling !== undefined && record.pulling.until > now
      ? "pulling"
      : failure !== undefined
        ? "failed"
        : record.lastPulledAt !== undefined || record.seenAt !== undefined
          ? "present"
          : "unknown";
  return {
    engine: record.engine,
    state,
    lastPulledAt: record.lastPulledAt === undefined ? null : iso(record.lastPulledAt),
    failure:
      failure === undefined
        ? null
        : {
            reason: failure.kind,
            message: failure.message,
            attempts: failure.attempts,
            failedAt: iso(failure.at),
            nextRetryAt: iso(failure.nextRetryAt),
          },
  };
}

/** The last `count` lines of a text (a trailing newline does not count as a line). */
export function lastLines(text: string, count: number): string {
  const lines = text.replace(/\n$/, "").split("\n");
  return lines.slice(-count).join("\n");
}

/** A crash loop as the API shows it, with the last lines of the runner that crashed last. */
export function crashLoopView(record: CrashLoopRecord, logs: string | undefined): CrashLoopView {
  return {
    crashes: record.crashes,
    backoffs: record.backoffs,
    backoffUntil: iso(record.backoffUntil),
    lastCrashAt: iso(record.lastCrashAt),
    lastRunner: record.lastRunner,
    lastExitCode: record.lastExitCode,
    lastReason: record.lastReason,
    lastLines: logs === undefined ? "" : lastLines(logs, CRASH_LOOP_LOG_LINES),
    ...(record.lastReason === "runner-outdated" ? { fix: RUNNER_OUTDATED_FIX } : {}),
  };
}

export function poolView(
  pool: Pool,
  override: PoolOverride | undefined,
  counts: PoolCounts,
  /** The idle runners the pool keeps now and why (src/pools/warm-signals.ts). */
  warm: WarmTarget,
  images: readonly ImageRecord[] = [],
  now = 0,
  /** The pool's crash loop while it lasts (crashLoopOf), with the last crashed runner's kept log lines. */
  crashLoop?: { record: CrashLoopRecord; logs: string | undefined },
): PoolView {
  const effective = effectivePool(pool, override);
  return {
    name: pool.name,
    labels: [...pool.labels],
    image: pool.image,
    pull: pool.pull,
    imageStatus: images.filter((record) => record.image === pool.image).map((record) => imageStatusView(record, now)),
    limits: {
      maxRunners: effective.maxRunners,
      minIdle: effective.minIdle,
      idleTimeoutMs: effective.idleTimeout,
      maxLifetimeMs: effective.maxLifetime,
    },
    overrides: override ?? {},
    counts,
    warmTarget: warm.target,
    warmReason: warm.reason,
    health: crashLoop ? "crash-looping" : "ok",
    crashLoop: crashLoop ? crashLoopView(crashLoop.record, crashLoop.logs) : null,
    placement: poolPlacementView(pool, undefined, 0),
    ...(pool.overflow === undefined ? {} : { overflow: pool.overflow }),
  };
}

/** Copies the fields the API documents, one by one, so a field added to the record later (maybe a secret) stays private. */
export function runnerView(record: RunnerRecord): RunnerView {
  return {
    name: record.name,
    pool: record.pool,
    engine: record.engine,
    state: record.state,
    installationId: record.installationId,
    scope:
      record.scope.kind === "org"
        ? { kind: "org", org: record.scope.org }
        : { kind: "repo", owner: record.scope.owner, repo: record.scope.repo },
    jobId: record.githubJobId,
    runnerId: record.runnerId ?? null,
    containerId: record.containerId ?? null,
    busyJobId: record.busyJobId ?? null,
    createdAt: record.createdAt,
    completedAt: record.completedAt ?? null,
    retiring: record.retiring ?? null,
    repository: record.repository ?? null,
  };
}

/** One runner, live or exited (then with its exit, usage and last log lines), field by field as runnerView. */
export function runnerDetail(
  runner: { live: RunnerRecord } | { exited: RunnerExitRecord; logs: string | undefined },
): RunnerDetail {
  const record = "live" in runner ? runner.live : runner.exited;
  const usage = record.usage
    ? { peakMemoryBytes: Math.round(record.usage.peakMemoryBytes), cpuSeconds: record.usage.cpuSeconds }
    : null;
  if ("live" in runner) return { ...runnerView(record), usage, exit: null, rerun: null, logs: null };
  const { exited } = runner;
  return {
    ...runnerView(exited),
    state: "exited",
    exit: {
      at: exited.exitedAt,
      reason: exited.reason,
      exitCode: exited.exitCode ?? null,
      oomKilled: exited.oomKilled,
    },
    usage,
    rerun: exited.rerun ? { pool: exited.rerun.pool, at: exited.rerun.at } : null,
    logs: runner.logs ?? null,
  };
}

/** What this process knows first-hand about the engine it works on. */
export interface LocalEngineState {
  name: string;
  capacity: number | undefined;
  reachable: boolean;
}

/** Workers' heartbeats as the dashboard reads them: how long ago each engine last beat. */
export interface EngineBeats {
  ages: readonly { engine: string; ageMs: number }[];
  /** RUNNERHUB_HEARTBEAT_TIMEOUT: silence past it means the engine is given up. */
  timeoutMs: number;
}

/**
 * Engines by name: every engine with a heartbeat or a live runner, and this process' own. Health
 * comes from the heartbeat; this process' own ping overrides it for its own engine.
 */
/** An engine's runners and health; placement-views.ts adds what placement knows of it. */
export type EngineHealthView = Omit<EngineView, "labels" | "draining" | "memory" | "cpus">;

export function engineViews(
  records: readonly Pick<RunnerRecord, "engine" | "state">[],
  local: LocalEngineState | undefined,
  beats: EngineBeats,
): EngineHealthView[] {
  const views = new Map<string, EngineHealthView>();
  const viewOf = (name: string): EngineHealthView => {
    let view = views.get(name);
    if (!view) {
      view = { name, starting: 0, idle: 0, busy: 0, capacity: null, health: "unknown", lastBeatMs: null };
      views.set(name, view);
    }
    return view;
  };
  for (const { engine, ageMs } of beats.ages) {
    const view = viewOf(engine);
    view.lastBeatMs = Math.round(ageMs);
    view.health = ageMs < beats.timeoutMs ? "ok" : "silent";
  }
  if (local) {
    const view = viewOf(local.name);
    view.capacity = local.capacity ?? "unlimited";
    view.health = local.reachable ? "ok" : "unreachable";
  }
  for (const record of records) viewOf(record.engine)[record.state] += 1;
  return [...views.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Runners of the pool (all when undefined), by pool then oldest first. */
export function selectRunners(records: readonly RunnerRecord[], pool: string | undefined): RunnerView[] {
  return records
    .filter((record) => pool === undefined || record.pool === pool)
    .sort((a, b) => a.pool.localeCompare(b.pool) || a.createdAt - b.createdAt || a.name.localeCompare(b.name))
    .map(runnerView);
}

/** The fields of a BullMQ job the API shows. */
export interface JobFields {
  id?: string | undefined;
  name: string;
  data: unknown;
  attemptsMade: number;
  failedReason?: string | undefined;
  timestamp: number;
  processedOn?: number | undefined;
  finishedOn?: number | undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function jobView(job: JobFields, state: string): JobView {
  return {
    id: job.id ?? "",
    name: job.name,
    state,
    data: isRecord(job.data) ? job.data : { value: job.data },
    attemptsMade: job.attemptsMade,
    failedReason: job.failedReason ? job.failedReason : null,
    timestamp: job.timestamp,
    processedOn: job.processedOn ?? null,
    finishedOn: job.finishedOn ?? null,
  };
}

/** The zero-based, inclusive index range of a 1-based page, as BullMQ's getJobs takes it. */
export function pageRange(page: number, perPage: number): { start: number; end: number } {
  const start = (page - 1) * perPage;
  return { start, end: start + perPage - 1 };
}

export function pageCount(total: number, perPage: number): number {
  return Math.ceil(total / perPage);
}

function fieldName(path: readonly PropertyKey[], root: string): string {
  if (path.length === 0) return root;
  return path.reduce<string>(
    (out, segment) =>
      typeof segment === "number" ? `${out}[${segment}]` : out ? `${out}.${String(segment)}` : String(segment),
    "",
  );
}

/**
 * Zod issues as `{field, message}` pairs, one per field; unknown keys are named each on their
 * own, with the fields that are allowed, so a typo is obvious.
 */
export function fieldProblems(
  issues: readonly z.core.$ZodIssue[],
  root: string,
  allowed?: readonly string[],
): FieldProblem[] {
  return issues.flatMap((issue): FieldProblem[] => {
    if (issue.code === "unrecognized_keys") {
      const hint = allowed ? `unknown field; allowed: ${allowed.join(", ")}` : "unknown field";
      return issue.keys.map((key) => ({ field: fieldName([...issue.path, key], root), message: hint }));
    }
    if (issue.code === "invalid_type" && issue.path.length === 0 && issue.expected === "object") {
      return [{ field: root, message: "must be a JSON object" }];
    }
    return [{ field: fieldName(issue.path, root), message: issue.message }];
  });
}

/** How many parked entries to wake after a limit change: as many as there is room for, at most all. */
export function slotsToWake(maxRunners: number, slotsHeld: number, parked: number): number {
  return Math.max(0, Math.min(parked, maxRunners - slotsHeld));
}
