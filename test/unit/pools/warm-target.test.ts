import { describe, expect, it } from "vitest";
import type { Pool } from "../../../src/config/pools.js";
import { decideWarmTarget, poissonQuantile, warmFloor, type WarmInputs } from "../../../src/pools/warm-target.js";

/** Monday 7 December 2026, 09:30 in Berlin (08:30 UTC). */
const MONDAY_MORNING = Date.parse("2026-12-07T08:30:20Z");
/** Sunday 6 December 2026, 23:30 in Berlin. */
const SUNDAY_NIGHT = Date.parse("2026-12-06T22:30:00Z");
const MINUTE = 60_000;

type WarmPool = Pick<Pool, "minIdle" | "schedule" | "warm" | "maxIdle" | "forecastWindow">;

function pool(fields: Partial<WarmPool> = {}): WarmPool {
  return { minIdle: 0, schedule: [], warm: "static", maxIdle: undefined, forecastWindow: 5 * MINUTE, ...fields };
}

function inputs(fields: Partial<WarmInputs> = {}): WarmInputs {
  return {
    now: MONDAY_MORNING,
    recentArrivals: 0,
    lateArrivals: 0,
    shortWindowMs: MINUTE,
    sameHour: undefined,
    bootSeconds: 4,
    defaultBootSeconds: 10,
    freeSlots: 100,
    ...fields,
  };
}

const office = { cron: "* 8-18 * * 1-5", timezone: "Europe/Berlin", minIdle: 4 };

describe("warmFloor", () => {
  it("is minIdle when no schedule entry matches the minute", () => {
    expect(warmFloor({ minIdle: 1, schedule: [office] }, SUNDAY_NIGHT)).toEqual({ floor: 1, schedule: null });
  });

  it("is the highest matching entry, which wins over minIdle whether above or below it", () => {
    const night = { cron: "* 0-7,19-23 * * *", timezone: "Europe/Berlin", minIdle: 0 };
    const busy = { cron: "* 9 * * 1", timezone: "Europe/Berlin", minIdle: 6 };
    expect(warmFloor({ minIdle: 2, schedule: [office, busy, night] }, MONDAY_MORNING)).toEqual({
      floor: 6,
      schedule: busy,
    });
    expect(warmFloor({ minIdle: 2, schedule: [office, night] }, SUNDAY_NIGHT)).toEqual({ floor: 0, schedule: night });
  });

  it("reads the minute in the entry's time zone", () => {
    const utcMorning = { cron: "* 8 * * *", timezone: "UTC", minIdle: 1 };
    const berlinMorning = { cron: "* 8 * * *", timezone: "Europe/Berlin", minIdle: 1 };
    expect(warmFloor({ minIdle: 0, schedule: [utcMorning] }, MONDAY_MORNING).floor).toBe(1);
    expect(warmFloor({ minIdle: 0, schedule: [berlinMorning] }, MONDAY_MORNING).floor).toBe(0);
  });
});

describe("poissonQuantile", () => {
  it("is 0 without expected arrivals and grows with them", () => {
    expect(poissonQuantile(0, 0.95)).toBe(0);
    // P(N <= 3) = 0.921 and P(N <= 4) = 0.976 for a mean of 1.6.
    expect(poissonQuantile(1.6, 0.95)).toBe(4);
    // P(N = 0) = 0.99 for a mean of 0.01: no runner needed; 0.905 for 0.1: one.
    expect(poissonQuantile(0.01, 0.95)).toBe(0);
    expect(poissonQuantile(0.1, 0.95)).toBe(1);
    expect(poissonQuantile(100, 0.95)).toBeGreaterThanOrEqual(116);
    expect(poissonQuantile(100, 0.95)).toBeLessThanOrEqual(118);
  });

  it("ends for means whose probabilities underflow, at ten standard deviations above the mean", () => {
    expect(poissonQuantile(1e6, 0.95)).toBe(1e6 + 10_000 + 10);
  });
});

describe("decideWarmTarget", () => {
  it("keeps a static pool at minIdle, whatever the demand", () => {
    expect(decideWarmTarget(pool({ minIdle: 2 }), inputs({ recentArrivals: 500 }))).toEqual({
      target: 2,
      reason: { kind: "floor", floor: 2, schedule: null, forecast: null, cappedBy: null },
    });
  });

  it("keeps a static pool at its matching schedule entry, and cold when none matches", () => {
    expect(decideWarmTarget(pool({ schedule: [office] }), inputs())).toMatchObject({
      target: 4,
      reason: { kind: "schedule", floor: 4, schedule: office },
    });
    expect(decideWarmTarget(pool({ schedule: [office] }), inputs({ now: SUNDAY_NIGHT }))).toMatchObject({
      target: 0,
      reason: { kind: "floor", floor: 0, schedule: null },
    });
  });

  it("keeps an adaptive pool without demand cold (its floor, 0 by default)", () => {
    const decided = decideWarmTarget(pool({ warm: "adaptive", maxIdle: 8 }), inputs());
    expect(decided.target).toBe(0);
    expect(decided.reason).toMatchObject({ kind: "floor", floor: 0, cappedBy: null });
    expect(decided.reason.forecast).toMatchObject({ perMinute: 0, expected: 0, withMargin: 0 });
  });

  it("keeps as many as the arrivals during one boot need, with the burst margin, explaining the inputs", () => {
    // 0.4 jobs a second over a 5-minute window and a 4 s boot: 1.6 expected, 4 at the 95% quantile.
    const decided = decideWarmTarget(pool({ warm: "adaptive", maxIdle: 8 }), inputs({ recentArrivals: 120 }));
    expect(decided).toEqual({
      target: 4,
      reason: {
        kind: "forecast",
        floor: 0,
        schedule: null,
        forecast: {
          perMinute: 24,
          recentPerMinute: 24,
          sameHourPerMinute: null,
          historyWeeks: 0,
          bootSeconds: 4,
          bootMeasured: true,
          expected: expect.closeTo(1.6, 9) as number,
          withMargin: 4,
        },
        cappedBy: null,
      },
    });
  });

  it("uses the recent rate over the pool's forecast window", () => {
    const short = decideWarmTarget(
      pool({ warm: "adaptive", maxIdle: 8, forecastWindow: MINUTE }),
      inputs({ recentArrivals: 24 }),
    );
    expect(short.reason.forecast?.recentPerMinute).toBe(24);
    expect(short.target).toBe(4);
  });

  it("assumes the default boot time until one was measured", () => {
    const decided = decideWarmTarget(
      pool({ warm: "adaptive", maxIdle: 8 }),
      inputs({ recentArrivals: 30, bootSeconds: undefined }),
    );
    expect(decided.reason.forecast).toMatchObject({ bootSeconds: 10, bootMeasured: false, expected: 1 });
    expect(decided.target).toBe(3);
  });

  it("warms for the same hour of earlier weeks before the first job of the hour arrives", () => {
    const decided = decideWarmTarget(
      pool({ warm: "adaptive", maxIdle: 8 }),
      inputs({ recentArrivals: 0, sameHour: { perHour: 1440, weeks: 3 } }),
    );
    expect(decided.reason.forecast).toMatchObject({
      perMinute: 24,
      recentPerMinute: 0,
      sameHourPerMinute: 24,
      historyWeeks: 3,
    });
    expect(decided.target).toBe(4);
  });

  it("takes the higher of the recent rate and the same hour of earlier weeks", () => {
    const decided = decideWarmTarget(
      pool({ warm: "adaptive", maxIdle: 8 }),
      inputs({ recentArrivals: 120, sameHour: { perHour: 60, weeks: 4 } }),
    );
    expect(decided.reason.forecast?.perMinute).toBe(24);
  });

  it("never goes above maxIdle, which defaults to the floor", () => {
    expect(decideWarmTarget(pool({ warm: "adaptive", maxIdle: 2 }), inputs({ recentArrivals: 120 }))).toMatchObject({
      target: 2,
      reason: { kind: "forecast", cappedBy: { by: "maxIdle", limit: 2 } },
    });
    expect(decideWarmTarget(pool({ warm: "adaptive", minIdle: 1 }), inputs({ recentArrivals: 120 }))).toMatchObject({
      target: 1,
      reason: { kind: "floor", floor: 1, cappedBy: { by: "maxIdle", limit: 1 } },
    });
  });

  it("never goes below the floor of a matching schedule entry", () => {
    const decided = decideWarmTarget(
      pool({ warm: "adaptive", maxIdle: 8, schedule: [office] }),
      inputs({ recentArrivals: 5 }),
    );
    expect(decided).toMatchObject({ target: 4, reason: { kind: "schedule", floor: 4 } });
  });

  it("never goes above the pool's free slots, floor included", () => {
    expect(
      decideWarmTarget(pool({ warm: "adaptive", maxIdle: 8 }), inputs({ recentArrivals: 120, freeSlots: 3 })),
    ).toMatchObject({ target: 3, reason: { kind: "forecast", cappedBy: { by: "freeSlots", limit: 3 } } });
    expect(decideWarmTarget(pool({ minIdle: 2 }), inputs({ freeSlots: -1 }))).toMatchObject({
      target: 0,
      reason: { kind: "floor", cappedBy: { by: "freeSlots", limit: 0 } },
    });
  });
});

describe("the adaptive forecast's short window", () => {
  it("reads a pool waking from a lull at the last minute's rate, not spread over its forecastWindow", () => {
    // 24 jobs in the last minute and none before: 0.4 a second, not 0.08 over five minutes.
    const woken = decideWarmTarget(
      pool({ warm: "adaptive", maxIdle: 10 }),
      inputs({ recentArrivals: 24, lateArrivals: 24 }),
    );
    expect(woken.reason.forecast?.recentPerMinute).toBe(24);
    expect(woken.target).toBe(poissonQuantile(1.6, 0.95));
    // The same jobs spread over the whole window read at the long window's rate.
    const spread = decideWarmTarget(
      pool({ warm: "adaptive", maxIdle: 10 }),
      inputs({ recentArrivals: 24, lateArrivals: 5 }),
    );
    expect(spread.reason.forecast?.recentPerMinute).toBeCloseTo(5);
  });
});
