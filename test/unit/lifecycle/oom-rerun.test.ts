import { describe, expect, it } from "vitest";
import { oomRerunDecision } from "../../../src/lifecycle/oom-rerun.js";
import { OOM_RERUN_ATTEMPTS, rerunRetryDelayMs } from "../../../src/tunables.js";
import type { RunnerRecord } from "../../../src/state/runner-store.js";
import { pool } from "../support/pools.js";

const pools = [
  pool({ name: "small", labels: ["self-hosted", "linux"], oomRetryPool: "big" }),
  pool({ name: "big", labels: ["self-hosted", "Linux", "big"] }),
  pool({ name: "odd", labels: ["self-hosted", "linux", "arm"], oomRetryPool: "big" }),
  pool({ name: "plain", labels: ["self-hosted", "linux", "plain"] }),
];

function busy(fields: Partial<RunnerRecord> = {}): RunnerRecord {
  return {
    name: "small-abc",
    pool: "small",
    engine: "e",
    installationId: 7,
    scope: { kind: "org", org: "acme" },
    githubJobId: 10,
    runnerId: 3,
    containerId: "c",
    state: "busy",
    busyJobId: 11,
    busyJob: { runId: 5, name: "build", owner: "acme", repo: "app", labels: ["self-hosted", "linux"] },
    createdAt: 0,
    completedAt: undefined,
    ...fields,
  };
}

describe("oomRerunDecision", () => {
  it("re-runs the job of a busy runner OOM-killed in a pool with oomRetryPool, on that pool", () => {
    expect(oomRerunDecision(busy(), "oom-killed", pools)).toEqual({ kind: "rerun", pool: pools[1] });
  });

  it("has nothing to say about runners that were not OOM-killed", () => {
    expect(oomRerunDecision(busy(), "crashed", pools)).toBeUndefined();
    expect(oomRerunDecision(busy(), "completed", pools)).toBeUndefined();
  });

  it("skips, saying why, what must not or cannot be re-run", () => {
    const reason = (record: RunnerRecord | undefined) => {
      const decision = oomRerunDecision(record, "oom-killed", pools);
      return decision?.kind === "skip" ? decision.reason : decision?.kind;
    };
    expect(reason(busy({ state: "idle", busyJobId: undefined, busyJob: undefined }))).toBe(
      "the runner had not taken a job",
    );
    expect(reason(undefined)).toBe("the runner had not taken a job");
    expect(reason(busy({ completedAt: 5 }))).toBe("its job had already completed");
    expect(reason(busy({ pool: "plain" }))).toBe("pool plain names no oomRetryPool");
    const arm = { runId: 5, name: "build", owner: "acme", repo: "app", labels: ["self-hosted", "arm"] };
    expect(reason(busy({ pool: "odd", busyJob: arm }))).toBe(
      "pool big lacks some of the job's labels self-hosted, arm",
    );
  });
});

describe("rerunRetryDelayMs", () => {
  it("asks again at 5 s, doubling to every 2 minutes, for about six hours", () => {
    expect([1, 2, 3, 4, 5, 6, 50].map(rerunRetryDelayMs)).toEqual([
      5_000, 10_000, 20_000, 40_000, 80_000, 120_000, 120_000,
    ]);
    let total = 0;
    for (let attempt = 1; attempt < OOM_RERUN_ATTEMPTS; attempt++) total += rerunRetryDelayMs(attempt);
    expect(total / 3_600_000).toBeGreaterThan(5.5);
    expect(total / 3_600_000).toBeLessThan(6.5);
  });
});

describe("oomRerunDecision with oomRetrySize", () => {
  const sized = [
    pool({
      name: "linux",
      labels: ["self-hosted", "linux"],
      oomRetrySize: "size-large",
      sizes: [
        { label: "size-medium", resources: { memory: "4g" } },
        { label: "size-large", resources: { memory: "8g" } },
      ],
    }),
  ];

  it("re-runs the job on the named size of the same pool, a sized job included", () => {
    expect(oomRerunDecision(busy({ pool: "linux" }), "oom-killed", sized)).toEqual({
      kind: "rerun",
      pool: sized[0],
      size: "size-large",
    });
    const medium = { runId: 5, name: "build", owner: "acme", repo: "app", labels: ["self-hosted", "size-medium"] };
    expect(oomRerunDecision(busy({ pool: "linux", busyJob: medium }), "oom-killed", sized)).toEqual({
      kind: "rerun",
      pool: sized[0],
      size: "size-large",
    });
  });
});
