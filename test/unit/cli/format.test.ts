import { describe, expect, it } from "vitest";
import type { JobView, PoolView, RunnerDetail, RunnerView } from "../../../src/admin/schemas.js";
import {
  formatRunnerDetail,
  formatDrain,
  formatError,
  formatInstallations,
  formatJobs,
  formatPools,
  formatQueueCounts,
  formatRunners,
  formatTable,
} from "../../../src/cli/format.js";

const NOW = 1_000_000_000;

function poolView(fields: Partial<PoolView> & { name: string }): PoolView {
  return {
    labels: ["self-hosted", "linux"],
    image: "runner:1",
    pull: "missing",
    imageStatus: [],
    limits: { maxRunners: 5, minIdle: 0, idleTimeoutMs: 600_000, maxLifetimeMs: 21_600_000 },
    overrides: {},
    counts: { starting: 0, idle: 0, busy: 0, waiting: 0, slotsHeld: 0, parked: 0 },
    warmTarget: 0,
    warmReason: { kind: "floor", floor: 0, schedule: null, forecast: null, cappedBy: null },
    health: "ok",
    crashLoop: null,
    ...fields,
  };
}

describe("formatTable", () => {
  it("aligns columns two spaces apart without trailing blanks", () => {
    expect(
      formatTable(
        ["A", "LONGER", "C"],
        [
          ["xxxx", "y", ""],
          ["z", "", "end"],
        ],
      ),
    ).toBe(["A     LONGER  C", "xxxx  y", "z             end", ""].join("\n"));
  });
});

describe("formatPools", () => {
  it("shows limits and counts, marking run-time overrides", () => {
    const text = formatPools([
      poolView({ name: "linux", counts: { starting: 1, idle: 2, busy: 3, waiting: 4, slotsHeld: 6, parked: 0 } }),
      poolView({
        name: "gpu",
        labels: ["self-hosted", "gpu"],
        limits: { maxRunners: 2, minIdle: 0, idleTimeoutMs: 1, maxLifetimeMs: 1 },
        overrides: { maxRunners: 2 },
      }),
    ]);
    expect(text).toBe(
      [
        "NAME   MAX  MIN-IDLE  STARTING  IDLE  BUSY  WAITING  LABELS",
        "linux  5    0         1         2     3     4        self-hosted,linux",
        "gpu    2*   0         0         0     0     0        self-hosted,gpu",
        "* set at run time (runnerhub pools set), not from the pools file",
        "",
      ].join("\n"),
    );
  });

  it("lists a fair-share pool's repositories under the table", () => {
    const fairShare = {
      maxRunnersPerRepository: 3,
      repositories: [
        { repository: "acme/a", running: 3, waiting: 9, parked: 8 },
        { repository: "acme/b", running: 1, waiting: 1, parked: 0 },
      ],
    };
    const text = formatPools([poolView({ name: "shared", fairShare }), poolView({ name: "linux" })]);
    expect(text.split("\n").slice(3)).toEqual([
      "",
      "shared per repository (at most 3 runners each; waiting jobs start round-robin):",
      "REPOSITORY  RUNNING  WAITING  PARKED",
      "acme/a      3        9        8",
      "acme/b      1        1        0",
      "",
    ]);
  });

  it("notes where a pool overflows to and the fix for an outdated runner", () => {
    const crashLoop = {
      crashes: 1,
      backoffs: 1,
      backoffUntil: "2026-01-01T00:00:30.000Z",
      lastCrashAt: "2026-01-01T00:00:00.000Z",
      lastRunner: "linux-1",
      lastExitCode: 0,
      lastReason: "runner-outdated",
      lastLines: "",
      fix: "use a newer image; pull: always",
    };
    const text = formatPools([poolView({ name: "linux", overflow: "big", health: "crash-looping", crashLoop })]);
    expect(text.split("\n").slice(2)).toEqual([
      "linux: jobs it cannot start now overflow to big",
      "linux: runner-outdated; fix: use a newer image; pull: always",
      "",
    ]);
  });

  it("says so when there is nothing", () => {
    expect(formatPools([])).toBe("no pools\n");
  });
});

describe("formatRunners", () => {
  const runner = (fields: Partial<RunnerView>): RunnerView => ({
    name: "linux-a1",
    pool: "linux",
    engine: "host1",
    state: "idle",
    installationId: 7,
    scope: { kind: "org", org: "acme" },
    jobId: 11,
    runnerId: 3,
    containerId: "c",
    busyJobId: null,
    repository: null,
    createdAt: NOW - 90_000,
    completedAt: null,
    retiring: null,
    ...fields,
  });

  it("shows the job a runner works on, its engine, age and why it is going away", () => {
    expect(
      formatRunners([runner({}), runner({ name: "linux-b2", state: "busy", busyJobId: 12, retiring: "drained" })], NOW),
    ).toBe(
      [
        "NAME      POOL   STATE                     JOB  ENGINE  AGE",
        "linux-a1  linux  idle                      11   host1   1m",
        "linux-b2  linux  busy (retiring: drained)  12   host1   1m",
        "",
      ].join("\n"),
    );
    expect(formatRunners([], NOW)).toBe("no runners\n");
  });
});

describe("queue formatting", () => {
  const job: JobView = {
    id: "job-7",
    name: "provision",
    state: "failed",
    data: { pool: "linux", owner: "acme", repo: "app", githubJobId: 7 },
    attemptsMade: 8,
    failedReason: "boom",
    timestamp: NOW - 7200_000,
    processedOn: NOW,
    finishedOn: NOW,
  };

  it("lists counts per state", () => {
    expect(formatQueueCounts("provision", { waiting: 2, failed: 10 })).toBe(
      ["queue provision", "STATE    ENTRIES", "waiting  2", "failed   10", ""].join("\n"),
    );
  });

  it("lists entries with the page they are on", () => {
    expect(formatJobs({ state: "failed", page: 2, pages: 3, total: 101, jobs: [job] }, NOW)).toBe(
      [
        "ID     STATE   POOL   REPO      JOB  ATTEMPTS  AGE  REASON",
        "job-7  failed  linux  acme/app  7    8         2h   boom",
        "page 2 of 3 (101 failed entries)",
        "",
      ].join("\n"),
    );
    expect(formatJobs({ state: "delayed", page: 1, pages: 0, total: 0, jobs: [] }, NOW)).toBe("no delayed entries\n");
  });
});

describe("messages", () => {
  it("reports a drain", () => {
    expect(formatDrain({ runner: { name: "r1" }, stop: { reason: "drained" }, registrationDeleted: true })).toBe(
      "runner r1 is draining: GitHub registration deleted, stop queued (drained)\n",
    );
    expect(
      formatDrain({ runner: { name: "r1" }, stop: { reason: "drained-forced" }, registrationDeleted: false }),
    ).toBe("runner r1 is draining: stop queued (drained-forced)\n");
  });

  it("prints an API error with one line per field", () => {
    expect(formatError({ error: "invalid pool change", details: [{ field: "maxRunners", message: "too big" }] })).toBe(
      "error: invalid pool change\n  maxRunners: too big\n",
    );
    expect(formatError({ error: "nope" })).toBe("error: nope\n");
  });
});

describe("formatRunnerDetail", () => {
  const live: RunnerDetail = {
    name: "linux-abc",
    pool: "linux",
    engine: "e1",
    state: "busy",
    installationId: 7,
    scope: { kind: "org", org: "acme" },
    jobId: 11,
    runnerId: 5,
    containerId: "c1",
    busyJobId: 12,
    repository: "acme/app",
    createdAt: NOW - 300_000,
    completedAt: null,
    retiring: null,
    exit: null,
    usage: { peakMemoryBytes: 48 * 1024 * 1024, cpuSeconds: 2.25 },
    rerun: null,
    logs: null,
  };

  it("shows a live runner and where its logs are", () => {
    expect(formatRunnerDetail(live, NOW)).toBe(
      [
        "name:         linux-abc",
        "pool:         linux",
        "state:        busy",
        "job:          12 (made for 11)",
        "engine:       e1",
        "runner id:    5",
        "created:      5m ago",
        "peak memory:  48.0 MiB",
        "cpu time:     2.3 s",
        "(live: runnerhub runners logs linux-abc)",
        "",
      ].join("\n"),
    );
  });

  it("shows an exited runner's exit, re-run and last log lines", () => {
    const exited: RunnerDetail = {
      ...live,
      state: "exited",
      busyJobId: 11,
      exit: { at: NOW - 60_000, reason: "oom-killed", exitCode: 137, oomKilled: true },
      rerun: { pool: "big", at: NOW - 30_000 },
      logs: "stub-runner: got oom",
    };
    const text = formatRunnerDetail(exited, NOW);
    expect(text).toContain("state:        exited: oom-killed, exit code 137, OOM-killed\n");
    expect(text).toContain("job:          11\n");
    expect(text).toContain("exited:       1m ago\n");
    expect(text).toContain("re-run:       on pool big, 30s ago\n");
    expect(text.endsWith("--- last log lines ---\nstub-runner: got oom\n")).toBe(true);
    const silent = formatRunnerDetail({ ...exited, busyJobId: null, logs: "", rerun: null }, NOW);
    expect(silent).toContain("job:          11 (made for it; took none)\n");
    expect(silent.endsWith("--- last log lines ---\n(no output)\n")).toBe(true);
  });
});

describe("formatInstallations", () => {
  it("shows each installation's points left of its burst, its pause, its floor and its runners", () => {
    const text = formatInstallations([
      {
        installation: "7",
        scopes: ["acme", "acme/app"],
        runners: { starting: 1, idle: 2, busy: 3 },
        budget: { points: -40, burstPoints: 300, pausedForMs: 2_500, belowFloor: 12 },
      },
      {
        installation: "app",
        scopes: [],
        runners: { starting: 0, idle: 0, busy: 0 },
        budget: { points: 295.5, burstPoints: 300, pausedForMs: 0, belowFloor: null },
      },
    ]);
    const [header, seven, app] = text.trimEnd().split("\n");
    expect(header?.split(/\s+/)).toEqual([
      "INSTALLATION",
      "SCOPES",
      "POINTS",
      "PAUSED",
      "BELOW",
      "FLOOR",
      "STARTING",
      "IDLE",
      "BUSY",
    ]);
    expect(seven?.split(/\s+/)).toEqual(["7", "acme,acme/app", "0/300", "3s", "12", "1", "2", "3"]);
    expect(app?.split(/\s+/)).toEqual(["app", "-", "295.5/300", "-", "-", "0", "0", "0"]);
  });
});
