import { describe, expect, it } from "vitest";
import { parseRunnerName, randomRunnerSuffix, runnerLogFields, runnerName } from "../../../src/pools/runner-names.js";

describe("runner names", () => {
  it("gives back the pool and suffix of every name it builds, dashes in the pool name included", () => {
    for (const pool of ["linux", "gpu-large", "a", "x64-2-big"]) {
      for (const suffix of ["00000000", "1a2b3c4d", "ffffffff", randomRunnerSuffix()]) {
        const name = runnerName(pool, suffix);
        expect(name).toBe(`${pool}-${suffix}`);
        expect(parseRunnerName(name)).toEqual({ pool, suffix });
      }
    }
  });

  it("makes random suffixes the builder accepts", () => {
    const suffixes = new Set(Array.from({ length: 50 }, randomRunnerSuffix));
    expect(suffixes.size).toBeGreaterThan(1);
    for (const suffix of suffixes) expect(() => runnerName("linux", suffix)).not.toThrow();
  });

  it("parses no name runnerhub did not give", () => {
    for (const name of [
      "linux",
      "my-laptop",
      "linux-1a2b3c4",
      "linux-1a2b3c4d5",
      "linux-1A2B3C4D",
      "linux-1a2b3c4g",
      "linux_1a2b3c4d",
      "-1a2b3c4d",
      "1a2b3c4d",
    ]) {
      expect(parseRunnerName(name), name).toBeUndefined();
    }
  });

  it("refuses a suffix the parser would not give back, naming it", () => {
    expect(() => runnerName("linux", "12345")).toThrow(/suffix "12345": the suffix must be 8 lowercase hex digits/);
    expect(() => runnerName("linux", "1A2B3C4D")).toThrow(/1A2B3C4D/);
    expect(() => runnerName("", "1a2b3c4d")).toThrow(/pool ""/);
  });

  it("gives log lines the pool of a runner known only by name", () => {
    expect(runnerLogFields("big-memory-1a2b3c4d")).toEqual({ pool: "big-memory", runnerName: "big-memory-1a2b3c4d" });
    expect(runnerLogFields("someone-elses")).toEqual({ pool: undefined, runnerName: "someone-elses" });
  });
});
