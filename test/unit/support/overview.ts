import type { Overview, PoolHistoryView, RunnerView } from "../../../src/admin/schemas.js";

/** 2026-01-02 03:04:05 UTC: a fixed moment for known renderings. */
export const AT = Date.UTC(2026, 0, 2, 3, 4, 5);

export function runner(fields: Partial<RunnerView> & { name: string }): RunnerView {
  return {
    pool: "linux",
    engine: "host-a",
    state: "idle",
    installationId: 7,
    scope: { kind: "org", org: "acme" },
    jobId: 100,
    runnerId: 1,
    containerId: "abcdef0123456789",
    busyJobId: null,
    createdAt: AT - 90_000,
    completedAt: null,
    retiring: null,
    repository: "acme/app",
    ...fields,
  };
}

/** An engine whose worker published no placement profile. */
const unplaced = { labels: [], draining: false, memory: null, cpus: null };

/** A known state: two pools, two engines, three runners and a short timeline (newest first). */
export function knownOverview(): Overview {
  const counts = { starting: 0, idle: 0, busy: 0, waiting: 0, slotsHeld: 0, parked: 0 };
  return {
    at: AT,
    pools: [
      {
        name: "linux",
        labels: ["self-hosted", "linux"],
        image: "runner:1",
        pull: "missing",
        imageStatus: [],
        limits: { maxRunners: 4, minIdle: 1, idleTimeoutMs: 60_000, maxLifetimeMs: 3_600_000 },
        overrides: {},
        counts: { ...counts, starting: 1, idle: 1, busy: 1, waiting: 2, slotsHeld: 3, parked: 1 },
        warmTarget: 1,
        warmReason: { kind: "floor", floor: 1, schedule: null, forecast: null, cappedBy: null },
        health: "ok",
        crashLoop: null,
        placement: { rule: "spread", engineLabels: [], noEngine: null },
      },
      {
        name: "gpu",
        labels: ["self-hosted", "gpu"],
        image: "runner:gpu",
        pull: "missing",
        imageStatus: [],
        limits: { maxRunners: 1, minIdle: 0, idleTimeoutMs: 60_000, maxLifetimeMs: 3_600_000 },
        overrides: { maxRunners: 1 },
        counts,
        warmTarget: 0,
        warmReason: { kind: "floor", floor: 0, schedule: null, forecast: null, cappedBy: null },
        health: "ok",
        crashLoop: null,
        placement: { rule: "spread", engineLabels: [], noEngine: null },
      },
    ],
    engines: [
      { name: "host-a", starting: 1, idle: 1, busy: 0, capacity: 8, health: "ok", lastBeatMs: 2_000, ...unplaced },
      {
        name: "host-b",
        starting: 0,
        idle: 0,
        busy: 1,
        capacity: null,
        health: "silent",
        lastBeatMs: 125_000,
        ...unplaced,
      },
      {
        name: "host-c",
        starting: 0,
        idle: 0,
        busy: 0,
        capacity: null,
        health: "unknown",
        lastBeatMs: null,
        ...unplaced,
      },
    ],
    runners: [
      runner({ name: "linux-aaaa0001", state: "starting", createdAt: AT - 5_000, runnerId: null, containerId: null }),
      runner({ name: "linux-aaaa0002", state: "idle", createdAt: AT - 90_000, retiring: "idle" }),
      runner({
        name: "linux-bbbb0003",
        engine: "host-b",
        state: "busy",
        createdAt: AT - 3_700_000,
        busyJobId: 101,
        repository: "acme/<web>",
      }),
    ],
    queue: { queue: "provision", counts: { waiting: 2, delayed: 1, active: 1, completed: 40, failed: 3 } },
    events: [
      {
        id: "5-0",
        kind: "oom-killed",
        at: AT - 1_000,
        pool: "linux",
        runnerName: "linux-cccc0004",
        engine: "host-a",
        jobId: 99,
        repository: "acme/app",
        reason: "oom-killed",
      },
      {
        id: "4-0",
        kind: "took-job",
        at: AT - 2_000,
        pool: "linux",
        runnerName: "linux-bbbb0003",
        engine: "host-b",
        jobId: 101,
        repository: "acme/<web>",
      },
      {
        id: "3-0",
        kind: "runner-created",
        at: AT - 5_000,
        pool: "linux",
        runnerName: "linux-aaaa0001",
        engine: "host-a",
        jobId: 102,
        repository: "acme/app",
      },
      { id: "2-0", kind: "queued", at: AT - 6_000, pool: "linux", jobId: 102, repository: "acme/app" },
    ],
    history: knownHistory(),
  };
}

/**
 * The last hour of both pools: linux sampled for its last two minutes (a runner starting, then
 * idle, then taken while two jobs wait) with two minutes of pickups; gpu never sampled.
 */
export function knownHistory(): PoolHistoryView[] {
  const from = AT - 3_600_000;
  const sample = (ago: number, fields: Partial<PoolHistoryView["samples"][number]>) => ({
    at: AT - ago,
    starting: 0,
    idle: 0,
    busy: 0,
    waiting: 0,
    target: 1,
    ...fields,
  });
  return [
    {
      pool: "linux",
      from,
      to: AT,
      target: 1,
      samples: [
        sample(120_000, { starting: 1 }),
        sample(90_000, { idle: 1 }),
        sample(60_000, { busy: 1, starting: 1, waiting: 2 }),
        sample(30_000, { busy: 1, idle: 1, starting: 1, waiting: 2 }),
      ],
      pickups: [
        { at: AT - 120_000, p50: 0.5, p95: 4.2, jobs: 6 },
        { at: AT - 60_000, p50: 1.25, p95: 3, jobs: 2 },
      ],
    },
    { pool: "gpu", from, to: AT, target: 0, samples: [], pickups: [] },
  ];
}

/** The known state with pool gpu crash-looping: its last runner died at start, printing lines with markup in them. */
export function crashLoopingOverview(): Overview {
  const overview = knownOverview();
  return {
    ...overview,
    pools: overview.pools.map((pool) =>
      pool.name !== "gpu"
        ? pool
        : {
            ...pool,
            health: "crash-looping",
            crashLoop: {
              crashes: 4,
              backoffs: 2,
              backoffUntil: new Date(AT + 55_000).toISOString(),
              lastCrashAt: new Date(AT - 5_000).toISOString(),
              lastRunner: "gpu-dddd0005",
              lastExitCode: 1,
              lastReason: "crashed",
              lastLines: "starting\nconfig <bad>\nnot allowed\nexiting with code 1",
            },
          },
    ),
  };
}
