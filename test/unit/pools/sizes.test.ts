import { describe, expect, it } from "vitest";
import { fitOf, matchPool, nearestPool, routePool } from "../../../src/pools/match.js";
import { oversizedRunners, runnerResources, sizedPool } from "../../../src/pools/sizes.js";
import { pool } from "../support/pools.js";

const GB = 1024 ** 3;
const linux = pool({
  name: "linux",
  labels: ["self-hosted", "linux"],
  resources: { memory: "2g", cpus: 1, pids: 512 },
  sizes: [
    { label: "size-large", resources: { memory: "8g", cpus: 4 } },
    { label: "size-huge", resources: { memory: "16g" } },
  ],
});
const gpu = pool({ name: "gpu", labels: ["self-hosted", "linux", "gpu"] });
const group = pool({ name: "group", labels: ["self-hosted", "team-a"], groupDefault: true, runnerGroup: "team-a" });

function chosen(labels: string[], among = [gpu, linux]) {
  const result = matchPool(labels, among);
  return result.kind === "matched" ? `${result.pool.name}${result.size ? `/${result.size}` : ""}` : result.reason;
}

describe("runnerResources", () => {
  it("gives a size's resources, and the pool's for what the size leaves out", () => {
    expect(runnerResources(linux, "size-large")).toEqual({ memory: 8 * GB, cpus: 4, pids: 512 });
    expect(runnerResources(linux, "SIZE-HUGE")).toEqual({ memory: 16 * GB, cpus: 1, pids: 512 });
  });

  it("gives the pool's own resources without a size, or for a size it does not offer", () => {
    expect(runnerResources(linux)).toEqual({ memory: 2 * GB, cpus: 1, pids: 512 });
    expect(runnerResources(linux, "size-tiny")).toEqual({ memory: 2 * GB, cpus: 1, pids: 512 });
    expect(runnerResources(gpu)).not.toHaveProperty("cpus");
  });
});

describe("sizedPool", () => {
  it("adds the size's label to what the runner registers with, and gives it the size's resources", () => {
    const sized = sizedPool(linux, "size-large");
    expect(sized.labels).toEqual(["self-hosted", "linux", "size-large"]);
    expect(sized.resources.memory).toBe(8 * GB);
    expect(sizedPool(linux, undefined)).toBe(linux);
  });

  it("keeps the job's own size label when a bigger size is named (an OOM re-run)", () => {
    expect(sizedPool(linux, "size-huge", ["self-hosted", "size-large"]).labels).toEqual([
      "self-hosted",
      "linux",
      "size-large",
      "size-huge",
    ]);
  });
});

describe("matching with sizes", () => {
  it("counts size labels as the pool's labels and picks the size", () => {
    expect(chosen(["self-hosted", "size-large"])).toBe("linux/size-large");
    expect(chosen(["self-hosted", "linux", "Size-Huge"])).toBe("linux/size-huge");
    expect(chosen(["self-hosted", "linux"])).toBe("linux");
  });

  it("does not match a size nobody offers, nor two sizes at once", () => {
    expect(chosen(["self-hosted", "size-medium"])).toBe("no-matching-pool");
    expect(chosen(["self-hosted", "size-large", "size-huge"])).toBe("no-matching-pool");
    expect(fitOf(linux, ["self-hosted", "size-large", "size-huge"])).toEqual({
      size: "size-large",
      missing: ["size-huge"],
    });
  });

  it("routes an OOM re-run to a named size of the chosen pool", () => {
    const routed = routePool(["self-hosted", "size-large"], [gpu, linux], "linux", "size-huge");
    expect(routed).toEqual({ kind: "matched", pool: linux, size: "size-huge" });
    expect(routePool(["self-hosted"], [gpu, linux], "linux", "size-large")).toEqual({
      kind: "matched",
      pool: linux,
      size: "size-large",
    });
  });
});

describe("jobs without labels (runs-on: {group: …})", () => {
  it("go to the groupDefault pool", () => {
    expect(chosen([], [gpu, linux, group])).toBe("group");
  });

  it("are unmatched, with the reason, when no pool is groupDefault", () => {
    expect(chosen([], [gpu, linux])).toBe("no-labels");
  });
});

describe("nearestPool", () => {
  it("is the pool missing the fewest of the job's labels, then the first declared", () => {
    expect(nearestPool(["self-hosted", "linux", "size-medium"], [gpu, linux])).toEqual({
      pool: "gpu",
      missing: ["size-medium"],
    });
    expect(nearestPool(["self-hosted", "gpu", "cuda"], [linux, gpu])).toEqual({ pool: "gpu", missing: ["cuda"] });
    expect(nearestPool(["self-hosted", "linx"], [linux, gpu])).toEqual({ pool: "linux", missing: ["linx"] });
    expect(nearestPool(["self-hosted"], [])).toBeUndefined();
  });
});

describe("oversizedRunners", () => {
  const engines = [
    { engine: "small", memory: 4 * GB, cpus: 2 },
    { engine: "big", memory: 12 * GB, cpus: 8 },
  ];

  it("names each pool or size that fits on no engine, with what the engines have", () => {
    const problems = oversizedRunners([linux, gpu], engines);
    expect(problems.map((problem) => `${problem.pool}/${problem.size ?? ""}`)).toEqual(["linux/size-huge"]);
    expect(problems[0]?.message).toMatch(
      /^size "size-huge" of pool "linux" asks for 16g and 1 CPUs, more than any engine has: small \(4g, 2 CPUs\), big \(12g, 8 CPUs\)/,
    );
  });

  it("weighs CPUs too, and says nothing before any engine is known", () => {
    expect(oversizedRunners([linux], [{ engine: "one", memory: 64 * GB, cpus: 2 }]).map((p) => p.size)).toEqual([
      "size-large",
    ]);
    expect(oversizedRunners([linux], [])).toEqual([]);
  });
});
