import { describe, expect, it } from "vitest";
import { poolOverrideSchema } from "../../../src/pools/overrides.js";
import type { WarmTarget } from "../../../src/pools/warm-target.js";
import { poolViewSchema, runnerDetailSchema, runnerViewSchema } from "../../../src/admin/schemas.js";
import { engineCapacity } from "../../../src/admin/format.js";
import {
  crashLoopView,
  engineViews,
  fieldProblems,
  jobView,
  pageCount,
  pageRange,
  poolCounts,
  poolView,
  runnerDetail,
  runnerView,
  selectRunners,
  slotsToWake,
} from "../../../src/admin/views.js";
import type { RunnerRecord } from "../../../src/state/runner-store.js";
import { pool } from "../support/pools.js";

function record(fields: Partial<RunnerRecord> & { name: string }): RunnerRecord {
  return {
    pool: "linux",
    engine: "local",
    installationId: 7,
    scope: { kind: "org", org: "acme" },
    githubJobId: 1,
    runnerId: undefined,
    containerId: undefined,
    state: "idle",
    busyJobId: undefined,
    createdAt: 1000,
    completedAt: undefined,
    ...fields,
  };
}

describe("poolCounts", () => {
  it("counts the pool's runners per state beside its waiting jobs, slots and parked entries", () => {
    const counts = poolCounts("linux", {
      runners: [
        { pool: "linux", state: "starting" },
        { pool: "linux", state: "busy" },
        { pool: "linux", state: "busy" },
        { pool: "gpu", state: "idle" },
      ],
      waiting: 2,
      slotsHeld: 3,
      parked: 1,
    });
    expect(counts).toEqual({ starting: 1, idle: 0, busy: 2, waiting: 2, slotsHeld: 3, parked: 1 });
  });

  it("is all zero for a pool nothing belongs to", () => {
    expect(
      poolCounts("none", {
        runners: [{ pool: "linux", state: "idle" }],
        waiting: 0,
        slotsHeld: 0,
        parked: 0,
      }),
    ).toEqual({
      starting: 0,
      idle: 0,
      busy: 0,
      waiting: 0,
      slotsHeld: 0,
      parked: 0,
    });
  });
});

describe("poolView", () => {
  const linux = pool({
    name: "linux",
    labels: ["self-hosted", "linux"],
    maxRunners: 5,
    minIdle: 1,
    warmScope: "acme",
    idleTimeout: "10m",
    maxLifetime: "6h",
  });
  const counts = { starting: 0, idle: 0, busy: 0, waiting: 0, slotsHeld: 0, parked: 0 };
  const warm: WarmTarget = {
    target: 1,
    reason: { kind: "floor", floor: 1, schedule: null, forecast: null, cappedBy: null },
  };

  it("shows the file's limits in milliseconds when nothing is overridden", () => {
    const view = poolView(linux, undefined, counts, warm);
    expect(view.limits).toEqual({ maxRunners: 5, minIdle: 1, idleTimeoutMs: 600_000, maxLifetimeMs: 21_600_000 });
    expect(view.overrides).toEqual({});
    expect(poolViewSchema.parse(view)).toEqual(view);
  });

  it("shows the pool's image on each engine: pulling, failed with reason and next retry, present", () => {
    const base = {
      image: linux.image,
      lastPulledAt: undefined,
      seenAt: undefined,
      imageId: undefined,
      pulling: undefined,
      failure: undefined,
      poolImageAt: 0,
      superseded: [],
    };
    const now = Date.UTC(2026, 0, 1);
    const view = poolView(
      linux,
      undefined,
      counts,
      warm,
      [
        { ...base, engine: "a", lastPulledAt: now - 1000 },
        { ...base, engine: "b", pulling: { since: now - 10, until: now + 60_000 } },
        { ...base, engine: "c", pulling: { since: now - 120_000, until: now - 60_000 }, seenAt: now - 200_000 },
        {
          ...base,
          engine: "d",
          failure: { kind: "not-found", message: "manifest unknown", attempts: 2, at: now, nextRetryAt: now + 10_000 },
        },
        { ...base, engine: "a", image: "another:1", lastPulledAt: now },
      ],
      now,
    );
    expect(view.pull).toBe("missing");
    expect(view.imageStatus).toEqual([
      { engine: "a", state: "present", lastPulledAt: new Date(now - 1000).toISOString(), failure: null },
      { engine: "b", state: "pulling", lastPulledAt: null, failure: null },
      // A lease that ran out belongs to a process that died mid-pull.
      { engine: "c", state: "present", lastPulledAt: null, failure: null },
      {
        engine: "d",
        state: "failed",
        lastPulledAt: null,
        failure: {
          reason: "not-found",
          message: "manifest unknown",
          attempts: 2,
          failedAt: new Date(now).toISOString(),
          nextRetryAt: new Date(now + 10_000).toISOString(),
        },
      },
    ]);
    expect(poolViewSchema.parse(view)).toEqual(view);
  });

  it("shows a crash loop with the last lines of the runner that crashed last", () => {
    expect(poolView(linux, undefined, counts, warm)).toMatchObject({ health: "ok", crashLoop: null });
    const record = {
      poolVersion: "v",
      crashes: 3,
      backoffs: 1,
      backoffUntil: Date.UTC(2026, 0, 1, 0, 0, 30),
      lastCrashAt: Date.UTC(2026, 0, 1),
      lastRunner: "linux-1",
      lastExitCode: 7,
      lastReason: "crashed",
    };
    const logs = `${Array.from({ length: 30 }, (_, line) => `line ${line + 1}`).join("\n")}\n`;
    const view = poolView(linux, undefined, counts, warm, [], 0, { record, logs });
    expect(view.health).toBe("crash-looping");
    expect(view.crashLoop).toMatchObject({
      crashes: 3,
      backoffs: 1,
      backoffUntil: "2026-01-01T00:00:30.000Z",
      lastRunner: "linux-1",
      lastExitCode: 7,
      lastReason: "crashed",
    });
    // The last CRASH_LOOP_LOG_LINES lines.
    expect(view.crashLoop?.lastLines.split("\n")).toEqual(Array.from({ length: 20 }, (_, line) => `line ${line + 11}`));
    expect(poolViewSchema.parse(view)).toEqual(view);
    expect(poolView(linux, undefined, counts, warm, [], 0, { record, logs: undefined }).crashLoop?.lastLines).toBe("");
  });

  it("applies overrides and shows them", () => {
    const view = poolView(linux, { maxRunners: 2, idleTimeout: "90s" }, counts, warm);
    expect(view.limits).toEqual({ maxRunners: 2, minIdle: 1, idleTimeoutMs: 90_000, maxLifetimeMs: 21_600_000 });
    expect(view.overrides).toEqual({ maxRunners: 2, idleTimeout: "90s" });
  });
});

describe("runnerView", () => {
  it("shows absent fields as null and copies only documented fields", () => {
    const withExtra = { ...record({ name: "r1" }), secretThing: "s3cr3t" } as RunnerRecord;
    const view = runnerView(withExtra);
    expect(view).toMatchObject({
      name: "r1",
      runnerId: null,
      containerId: null,
      busyJobId: null,
      completedAt: null,
      retiring: null,
    });
    expect(JSON.stringify(view)).not.toContain("s3cr3t");
    expect(runnerViewSchema.parse(view)).toEqual(view);
  });

  it("filters by pool and sorts by pool, then age", () => {
    const records = [
      record({ name: "b", pool: "linux", createdAt: 3 }),
      record({ name: "a", pool: "linux", createdAt: 5 }),
      record({ name: "g", pool: "gpu", createdAt: 9 }),
    ];
    expect(selectRunners(records, undefined).map((r) => r.name)).toEqual(["g", "b", "a"]);
    expect(selectRunners(records, "linux").map((r) => r.name)).toEqual(["b", "a"]);
    expect(selectRunners(records, "nope")).toEqual([]);
  });
});

describe("runnerDetail", () => {
  it("shows a live runner with its usage so far and no exit", () => {
    const live = record({ name: "r1", state: "busy", usage: { peakMemoryBytes: 1_000_000.4, cpuSeconds: 1.5 } });
    const detail = runnerDetail({ live });
    expect(detail).toMatchObject({
      name: "r1",
      state: "busy",
      exit: null,
      usage: { peakMemoryBytes: 1_000_000, cpuSeconds: 1.5 },
      rerun: null,
      logs: null,
    });
    expect(runnerDetailSchema.parse(detail)).toEqual(detail);
  });

  it("shows an exited runner with its exit, usage, re-run and kept lines, and nothing undocumented", () => {
    const exited = {
      ...record({ name: "r2", state: "busy", busyJobId: 5 }),
      exitedAt: 9000,
      exitCode: 137,
      oomKilled: true,
      reason: "oom-killed",
      usage: { peakMemoryBytes: 64 << 20, cpuSeconds: 3 },
      rerun: { pool: "big", at: 9001 },
      secretThing: "s3cr3t",
    };
    const detail = runnerDetail({ exited, logs: "last words\n" });
    expect(detail).toMatchObject({
      state: "exited",
      busyJobId: 5,
      exit: { at: 9000, reason: "oom-killed", exitCode: 137, oomKilled: true },
      usage: { peakMemoryBytes: 64 << 20, cpuSeconds: 3 },
      rerun: { pool: "big", at: 9001 },
      logs: "last words\n",
    });
    expect(JSON.stringify(detail)).not.toContain("s3cr3t");
    expect(runnerDetailSchema.parse(detail)).toEqual(detail);
    const bare = runnerDetail({
      exited: { ...record({ name: "r3" }), exitedAt: 1, exitCode: undefined, oomKilled: false, reason: "gone" },
      logs: undefined,
    });
    expect(bare).toMatchObject({ exit: { exitCode: null }, usage: null, rerun: null, logs: null });
  });
});

describe("jobView", () => {
  it("maps a BullMQ job, with missing times and an empty failure as null", () => {
    const view = jobView(
      { id: "job-1", name: "provision", data: { pool: "linux" }, attemptsMade: 0, failedReason: "", timestamp: 5 },
      "waiting",
    );
    expect(view).toEqual({
      id: "job-1",
      name: "provision",
      state: "waiting",
      data: { pool: "linux" },
      attemptsMade: 0,
      failedReason: null,
      timestamp: 5,
      processedOn: null,
      finishedOn: null,
    });
  });
});

describe("paging", () => {
  it("turns 1-based pages into BullMQ's inclusive index ranges", () => {
    expect(pageRange(1, 50)).toEqual({ start: 0, end: 49 });
    expect(pageRange(3, 10)).toEqual({ start: 20, end: 29 });
  });

  it("counts pages, rounding up", () => {
    expect(pageCount(0, 50)).toBe(0);
    expect(pageCount(50, 50)).toBe(1);
    expect(pageCount(51, 50)).toBe(2);
  });
});

describe("slotsToWake", () => {
  it("wakes as many parked entries as the new limit has room for", () => {
    expect(slotsToWake(5, 2, 10)).toBe(3);
    expect(slotsToWake(5, 2, 1)).toBe(1);
    expect(slotsToWake(2, 4, 3)).toBe(0);
  });
});

describe("fieldProblems", () => {
  it("names each bad field and each unknown key, with the allowed ones", () => {
    const result = poolOverrideSchema.safeParse({ maxRunners: "x", idleTimeout: "soon", colour: 1 });
    expect(result.success).toBe(false);
    const problems = fieldProblems(result.error?.issues ?? [], "body", ["maxRunners", "minIdle"]);
    expect(problems).toEqual(
      expect.arrayContaining([
        { field: "maxRunners", message: expect.stringContaining("expected number") },
        { field: "idleTimeout", message: expect.stringContaining("not a duration") },
        { field: "colour", message: "unknown field; allowed: maxRunners, minIdle" },
      ]),
    );
    expect(problems).toHaveLength(3);
  });

  it("says the body must be an object when it is not one", () => {
    const result = poolOverrideSchema.safeParse([1]);
    expect(fieldProblems(result.error?.issues ?? [], "body")).toEqual([
      { field: "body", message: "must be a JSON object" },
    ]);
  });
});

describe("engines", () => {
  it("come from heartbeats and live runners; this process' ping decides its own, and only it knows the capacity", () => {
    const views = engineViews(
      [
        { engine: "b", state: "busy" },
        { engine: "b", state: "idle" },
        { engine: "a", state: "starting" },
      ],
      { name: "c", capacity: undefined, reachable: false },
      {
        ages: [
          { engine: "b", ageMs: 1_500.4 },
          { engine: "c", ageMs: 2_000 },
          { engine: "d", ageMs: 30_000 },
        ],
        timeoutMs: 30_000,
      },
    );
    expect(views).toEqual([
      { name: "a", starting: 1, idle: 0, busy: 0, capacity: null, health: "unknown", lastBeatMs: null },
      { name: "b", starting: 0, idle: 1, busy: 1, capacity: null, health: "ok", lastBeatMs: 1_500 },
      { name: "c", starting: 0, idle: 0, busy: 0, capacity: "unlimited", health: "unreachable", lastBeatMs: 2_000 },
      { name: "d", starting: 0, idle: 0, busy: 0, capacity: null, health: "silent", lastBeatMs: 30_000 },
    ]);
    expect(views.map(engineCapacity)).toEqual(["unknown", "unknown", "no limit", "unknown"]);
    expect(engineViews([], { name: "c", capacity: 4, reachable: true }, { ages: [], timeoutMs: 1 })).toEqual([
      { name: "c", starting: 0, idle: 0, busy: 0, capacity: 4, health: "ok", lastBeatMs: null },
    ]);
  });
});

describe("crashLoopView", () => {
  const record = {
    poolVersion: "v",
    crashes: 1,
    backoffs: 1,
    backoffUntil: 31_000,
    lastCrashAt: 1000,
    lastRunner: "linux-1",
    lastExitCode: 0,
    lastReason: "runner-outdated",
  };

  it("gives the fix for a runner GitHub refused for its version, and none for a crash of unknown cause", () => {
    expect(crashLoopView(record, undefined).fix).toMatch(/newer image.*pull: always/);
    expect(crashLoopView({ ...record, lastReason: "crashed" }, undefined)).not.toHaveProperty("fix");
  });
});
