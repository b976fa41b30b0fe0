import { describe, expect, it } from "vitest";
import { poolSchema } from "../../../src/config/pools.js";
import {
  afterCrash,
  backoffEnd,
  backoffMs,
  crashedBeforeJob,
  crashLoopOf,
  poolVersion,
  type CrashLoopPolicy,
  type CrashLoopRecord,
} from "../../../src/pools/crash-loop.js";
import type { RunnerRecord } from "../../../src/state/runner-store.js";

const POLICY: CrashLoopPolicy = { threshold: 3, firstBackoffMs: 30_000, maxBackoffMs: 600_000, memoryMs: 1_800_000 };
const V = "v1";

const crash = (at: number, runnerName = `r-${at}`) => ({ runnerName, exitCode: 1, reason: "crashed" as const, at });

/** Applies crashes in order, as the store does. */
function crashes(times: number[], start?: CrashLoopRecord) {
  let record = start;
  const begun: boolean[] = [];
  for (const at of times) {
    const next = afterCrash(record, crash(at), V, POLICY);
    record = next.record;
    begun.push(next.backoffBegun);
  }
  return { record, begun };
}

const runner = (fields: Partial<RunnerRecord> = {}): RunnerRecord => ({
  name: "linux-1",
  pool: "linux",
  engine: "e",
  installationId: 1,
  scope: { kind: "org", org: "acme" },
  githubJobId: 1,
  runnerId: 1,
  containerId: "c",
  state: "starting",
  busyJobId: undefined,
  createdAt: 0,
  completedAt: undefined,
  ...fields,
});

describe("crash loops", () => {
  it("backs off only after the threshold of crashes in a row", () => {
    const { record, begun } = crashes([1000, 2000, 3000]);
    expect(begun).toEqual([false, false, true]);
    expect(record).toMatchObject({ crashes: 3, backoffs: 1, backoffUntil: 3000 + 30_000, lastRunner: "r-3000" });
    expect(backoffEnd(record, V, 3001, POLICY)).toBe(33_000);
    expect(backoffEnd(record, V, 33_000, POLICY)).toBeUndefined();
    expect(crashLoopOf(crashes([1000, 2000]).record, V, 2001, POLICY)).toBeUndefined();
  });

  it("backs off at the first runner GitHub refuses for its version: the next from the same image is refused too", () => {
    const outdated = { runnerName: "r-1", exitCode: 0, reason: "runner-outdated" as const, at: 1000 };
    const { record, backoffBegun } = afterCrash(undefined, outdated, V, POLICY);
    expect(backoffBegun).toBe(true);
    expect(record).toMatchObject({ crashes: 1, backoffs: 1, backoffUntil: 31_000, lastReason: "runner-outdated" });
    expect(crashedBeforeJob(runner(), "runner-outdated")).toBe(true);
  });

  it("doubles each backoff after a crash past the last one, up to the ceiling", () => {
    let { record } = crashes([0, 0, 0]);
    const lengths: number[] = [];
    for (let round = 0; round < 7; round++) {
      const at = (record?.backoffUntil ?? 0) + 1;
      const next = afterCrash(record, crash(at), V, POLICY);
      expect(next.backoffBegun).toBe(true);
      record = next.record;
      lengths.push(record.backoffUntil - at);
    }
    expect(lengths).toEqual([60_000, 120_000, 240_000, 480_000, 600_000, 600_000, 600_000]);
    expect(backoffMs(1, POLICY)).toBe(30_000);
  });

  it("counts crashes during a backoff (runners made before it) without backing off again", () => {
    const { record, begun } = crashes([0, 0, 0, 10, 20]);
    expect(begun).toEqual([false, false, true, false, false]);
    expect(record).toMatchObject({ crashes: 5, backoffs: 1, backoffUntil: 30_000 });
  });

  it("starts afresh for a changed pool or after a quiet period", () => {
    const { record } = crashes([0, 0, 0]);
    expect(backoffEnd(record, "v2", 1, POLICY)).toBeUndefined();
    expect(crashLoopOf(record, "v2", 1, POLICY)).toBeUndefined();
    expect(afterCrash(record, crash(1), "v2", POLICY).record).toMatchObject({ crashes: 1, backoffs: 0 });
    expect(crashLoopOf(record, V, POLICY.memoryMs, POLICY)).toBeDefined();
    expect(crashLoopOf(record, V, POLICY.memoryMs + 1, POLICY)).toBeUndefined();
    expect(afterCrash(record, crash(POLICY.memoryMs + 1), V, POLICY).record).toMatchObject({ crashes: 1 });
  });

  it("stays crash-looping after a backoff ends, until something clears it", () => {
    const { record } = crashes([0, 0, 0]);
    expect(crashLoopOf(record, V, 100_000, POLICY)).toMatchObject({ crashes: 3, backoffs: 1 });
    expect(backoffEnd(record, V, 100_000, POLICY)).toBeUndefined();
  });

  it("counts runners that died on their own before taking a job", () => {
    expect(crashedBeforeJob(runner(), "crashed")).toBe(true);
    expect(crashedBeforeJob(runner({ state: "idle" }), "oom-killed")).toBe(true);
    expect(crashedBeforeJob(runner(), "never-started")).toBe(true);
    // An exit 0 may be a job done before its in_progress webhook arrived.
    expect(crashedBeforeJob(runner(), "completed")).toBe(false);
    expect(crashedBeforeJob(runner(), "gone")).toBe(false);
    expect(crashedBeforeJob(runner({ state: "busy", busyJobId: 7 }), "crashed")).toBe(false);
    expect(crashedBeforeJob(runner({ busyJobId: 7 }), "crashed")).toBe(false);
    expect(crashedBeforeJob(runner({ retiring: "idle-timeout" }), "crashed")).toBe(false);
    expect(crashedBeforeJob(undefined, "crashed")).toBe(false);
  });

  it("versions a pool by what the file declares", () => {
    const pool = poolSchema.parse({ name: "linux", labels: ["self-hosted"], image: "runner:1", maxRunners: 2 });
    const same = poolSchema.parse({ name: "linux", labels: ["self-hosted"], image: "runner:1", maxRunners: 2 });
    const changed = poolSchema.parse({ name: "linux", labels: ["self-hosted"], image: "runner:2", maxRunners: 2 });
    expect(poolVersion(pool)).toBe(poolVersion(same));
    expect(poolVersion(pool)).not.toBe(poolVersion(changed));
  });
});
