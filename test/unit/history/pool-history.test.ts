import { describe, expect, it } from "vitest";
import { percentile, pickupPoints, poolSample, sampleTime } from "../../../src/history/pool-history.js";

describe("percentile", () => {
  it("takes the nearest rank, and 0 without values", () => {
    const values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(values, 0.5)).toBe(5);
    expect(percentile(values, 0.95)).toBe(10);
    expect(percentile([4.2], 0.95)).toBe(4.2);
    expect(percentile([], 0.5)).toBe(0);
  });
});

describe("pickupPoints", () => {
  it("groups pickups by minute, oldest first, with p50, p95 and how many jobs, leaving out what is before the window", () => {
    const minute = 60_000;
    const pickups = [
      { at: 10 * minute + 5_000, seconds: 4 },
      { at: 12 * minute + 1_000, seconds: 0.5 },
      { at: 10 * minute + 59_000, seconds: 1 },
      { at: 10 * minute + 30_000, seconds: 2 },
      { at: 9 * minute, seconds: 99 },
    ];
    expect(pickupPoints(pickups, 10 * minute, minute)).toEqual([
      { at: 10 * minute, p50: 2, p95: 4, jobs: 3 },
      { at: 12 * minute, p50: 0.5, p95: 0.5, jobs: 1 },
    ]);
  });
});

describe("poolSample", () => {
  it("counts the pool's runners by state, beside its waiting jobs and warm target", () => {
    const runners = [
      { pool: "linux", state: "idle" as const },
      { pool: "linux", state: "busy" as const },
      { pool: "linux", state: "busy" as const },
      { pool: "linux", state: "starting" as const },
      { pool: "gpu", state: "idle" as const },
    ];
    expect(poolSample("linux", 1_000, runners, 3, 2)).toEqual({
      at: 1_000,
      starting: 1,
      idle: 1,
      busy: 2,
      waiting: 3,
      target: 2,
    });
  });

  it("names a moment by the start of its interval, alike in every process", () => {
    expect(sampleTime(44_999, 15_000)).toBe(30_000);
    expect(sampleTime(45_000, 15_000)).toBe(45_000);
  });
});
