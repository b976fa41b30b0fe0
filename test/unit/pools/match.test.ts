import { describe, expect, it } from "vitest";
import { matchPool } from "../../../src/pools/match.js";
import { pool } from "../support/pools.js";

const small = pool({ name: "small", labels: ["self-hosted", "linux", "x64"] });
const big = pool({ name: "big", labels: ["self-hosted", "linux", "x64", "big-memory"] });
const gpu = pool({ name: "gpu", labels: ["self-hosted", "linux", "x64", "gpu", "cuda"] });
const pools = [big, small, gpu];

function chosen(labels: string[], among = pools) {
  const result = matchPool(labels, among);
  return result.kind === "matched" ? result.pool.name : result.reason;
}

describe("matchPool", () => {
  it("serves a job from the pool carrying all its labels", () => {
    expect(chosen(["self-hosted", "big-memory"])).toBe("big");
    expect(chosen(["self-hosted", "gpu"])).toBe("gpu");
  });

  it("compares labels case-insensitively", () => {
    expect(chosen(["Self-Hosted", "LINUX", "Big-Memory"])).toBe("big");
  });

  it("prefers the most specific pool over the first declared", () => {
    expect(chosen(["self-hosted", "linux"])).toBe("small");
    expect(chosen(["self-hosted"])).toBe("small");
  });

  it("breaks ties by declared order", () => {
    const twin = pool({ name: "twin", labels: ["self-hosted", "linux", "arm64"] });
    expect(chosen(["self-hosted", "linux"], [twin, small])).toBe("twin");
    expect(chosen(["self-hosted", "linux"], [small, twin])).toBe("small");
  });

  it("ignores jobs for GitHub-hosted runners", () => {
    expect(chosen(["ubuntu-latest"])).toBe("not-self-hosted");
    expect(chosen(["linux", "x64"])).toBe("not-self-hosted");
  });

  it("ignores jobs whose labels no pool has", () => {
    expect(chosen(["self-hosted", "windows"])).toBe("no-matching-pool");
    expect(chosen(["self-hosted", "gpu", "big-memory"])).toBe("no-matching-pool");
  });
});
