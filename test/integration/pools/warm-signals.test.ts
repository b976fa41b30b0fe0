import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { poolsFileSchema } from "../../../src/config/pools.js";
import { readWarmTarget } from "../../../src/pools/warm-signals.js";
import { WARM_BOOT_SAMPLES } from "../../../src/tunables.js";
import { provisionRequest, runnerRecord, serviceContext, type ServiceContext } from "../support/context.js";

const HOUR = 3600_000;
const WEEK = 7 * 24 * HOUR;
/** Monday 7 December 2026, 10:15 UTC. */
const NOW = Date.parse("2026-12-07T10:15:00Z");

let ctx: ServiceContext;

beforeAll(async () => {
  ctx = await serviceContext();
});

afterEach(async () => {
  await ctx.flushPrefix();
});

afterAll(async () => {
  await ctx.close();
});

describe("the demand ledger's arrival history", () => {
  it("counts new jobs in the window, not redeliveries", async () => {
    await ctx.ledger.queued(provisionRequest(1, { queuedAt: NOW - 90_000 }));
    await ctx.ledger.queued(provisionRequest(2, { queuedAt: NOW - 30_000 }));
    await ctx.ledger.queued(provisionRequest(3, { queuedAt: NOW - 10_000 }));
    await ctx.ledger.queued(provisionRequest(3, { queuedAt: NOW - 10_000 }));
    expect(await ctx.ledger.arrivals("linux", NOW, 60_000, 20_000)).toEqual({
      recent: 2,
      lately: 1,
      sameHour: undefined,
    });
    expect((await ctx.ledger.arrivals("linux", NOW, 120_000, 60_000)).recent).toBe(3);
    expect((await ctx.ledger.arrivals("other", NOW, 120_000, 60_000)).recent).toBe(0);
  });

  it("averages the same hour of the earlier weeks since the pool's first arrival", async () => {
    // Two weeks ago: 3 jobs in this hour; last week: 1; nothing earlier (no history before the first).
    for (let id = 1; id <= 3; id++) await ctx.ledger.queued(provisionRequest(id, { queuedAt: NOW - 2 * WEEK }));
    await ctx.ledger.queued(provisionRequest(4, { queuedAt: NOW - WEEK + 60_000 }));
    // Another hour of last week does not count.
    await ctx.ledger.queued(provisionRequest(5, { queuedAt: NOW - WEEK + 2 * HOUR }));
    expect(await ctx.ledger.arrivals("linux", NOW, 60_000, 60_000)).toEqual({
      recent: 0,
      lately: 0,
      sameHour: { perHour: 2, weeks: 2 },
    });
    // Looking ahead into the next hour: last week's job at 12:xx is two hours ahead, not one.
    expect((await ctx.ledger.arrivals("linux", NOW, 60_000, 60_000, HOUR)).sameHour).toEqual({ perHour: 0, weeks: 2 });
  });
});

describe("the runner store's boot times", () => {
  it("keeps the pool's recent ones and gives their median", async () => {
    expect(await ctx.runners.bootSeconds("linux")).toBeUndefined();
    await ctx.runners.recordBoot("linux", 4);
    await ctx.runners.recordBoot("linux", 30);
    await ctx.runners.recordBoot("linux", 5);
    expect(await ctx.runners.bootSeconds("linux")).toBe(5);
    for (let i = 0; i < WARM_BOOT_SAMPLES; i++) await ctx.runners.recordBoot("linux", 2);
    expect(await ctx.runners.bootSeconds("linux")).toBe(2);
    expect(await ctx.redis.llen(ctx.store.keys.bootSeconds("linux"))).toBe(WARM_BOOT_SAMPLES);
  });
});

describe("readWarmTarget", () => {
  it("decides an adaptive pool's target from what Redis holds, and explains it", async () => {
    const [pool] = poolsFileSchema.parse([
      {
        name: "linux",
        labels: ["self-hosted", "linux"],
        image: "runner:test",
        maxRunners: 10,
        warm: "adaptive",
        maxIdle: 5,
        warmScope: "acme",
        forecastWindow: "1m",
      },
    ]);
    if (!pool) throw new Error("no pool parsed");
    for (let id = 1; id <= 24; id++) await ctx.ledger.queued(provisionRequest(id, { queuedAt: NOW - id * 1000 }));
    await ctx.runners.recordBoot("linux", 4);
    const busy = Array.from({ length: 4 }, (_, i) => runnerRecord(`linux-b${i}`, { state: "busy" }));
    const decided = await readWarmTarget({ ledger: ctx.ledger, runners: ctx.runners }, pool, busy, NOW);
    // 24 waiting jobs: the forecast asks for 4, but no free slot is left for warm runners.
    expect(decided).toMatchObject({ target: 0, reason: { kind: "forecast", cappedBy: { by: "freeSlots", limit: 0 } } });
    for (let id = 1; id <= 24; id++) await ctx.ledger.settled("linux", id);
    // 24 a minute over a 4 s boot: 1.6 expected, 4 with the burst margin.
    expect(await readWarmTarget({ ledger: ctx.ledger, runners: ctx.runners }, pool, busy, NOW)).toMatchObject({
      target: 4,
      reason: { kind: "forecast", forecast: { perMinute: 24, bootSeconds: 4, bootMeasured: true, withMargin: 4 } },
    });
  });
});
