import { describe, expect, it } from "vitest";
import { overflowingInto, overflowTarget } from "../../../src/pools/overflow.js";
import { pool } from "../support/pools.js";

const small = pool({ name: "small", labels: ["self-hosted", "linux"], overflow: "big" });
const big = pool({ name: "big", labels: ["self-hosted", "linux", "big-memory"] });
const gpu = pool({ name: "gpu", labels: ["self-hosted", "gpu"], overflow: "small" });
const pools = [small, big, gpu];

function next(from: typeof small, job: { githubJobId?: number; labels: string[]; overflowedFrom?: string }) {
  const decision = overflowTarget(from, { githubJobId: 7, ...job }, pools);
  return decision.kind === "overflow" ? decision.to.name : decision.reason;
}

describe("overflowTarget", () => {
  it("moves a job to the pool's overflow pool when that pool carries every label of the job", () => {
    expect(next(small, { labels: ["self-hosted", "Linux"] })).toBe("big");
  });

  it("keeps a job whose labels the overflow pool does not carry", () => {
    expect(next(gpu, { labels: ["self-hosted", "gpu"] })).toBe("labels-differ");
  });

  it("keeps a job in a pool without overflow", () => {
    expect(next(big, { labels: ["self-hosted"] })).toBe("no-overflow");
  });

  it("never moves a job twice, so no chain or loop is followed", () => {
    expect(next(small, { labels: ["self-hosted"], overflowedFrom: "gpu" })).toBe("already-overflowed");
  });

  it("never moves warm demand, which answers to no job", () => {
    expect(next(small, { githubJobId: 0, labels: ["self-hosted", "linux"] })).toBe("warm-demand");
  });

  it("keeps a job whose overflow pool is gone from the pools", () => {
    const decision = overflowTarget(small, { githubJobId: 7, labels: ["self-hosted"] }, [small]);
    expect(decision).toEqual({ kind: "stay", reason: "pool-missing" });
  });
});

describe("overflowTarget with sizes and runner groups", () => {
  const sized = { sizes: [{ label: "size-large", resources: { memory: "8g" } }] };
  const from = pool({ name: "from", labels: ["self-hosted", "linux"], overflow: "to", ...sized, groupDefault: true });
  const job = (labels: string[]) => ({ githubJobId: 1, labels });

  it("moves a sized job to a pool offering the same size", () => {
    const to = pool({ name: "to", labels: ["self-hosted", "linux"], ...sized });
    expect(overflowTarget(from, job(["self-hosted", "size-large"]), [from, to])).toEqual({ kind: "overflow", to });
  });

  it("keeps a label-less job in its pool's runner group", () => {
    const to = pool({ name: "to", labels: ["self-hosted", "linux"], runnerGroup: "other" });
    expect(overflowTarget(from, job([]), [from, to])).toEqual({ kind: "stay", reason: "labels-differ" });
  });
});

describe("overflowingInto", () => {
  it("names the pools whose overflow is the pool, the ones a slot freed there may wake", () => {
    expect(overflowingInto("big", pools)).toEqual(["small"]);
    expect(overflowingInto("small", pools)).toEqual(["gpu"]);
    expect(overflowingInto("gpu", pools)).toEqual([]);
  });
});
