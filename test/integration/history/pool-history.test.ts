import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { PoolHistoryStore } from "../../../src/history/pool-history-store.js";
import { createPoolHistory, type PoolHistoryDeps } from "../../../src/history/pool-history-service.js";
import { provisionRequest, runnerRecord, serviceContext, testPool, type ServiceContext } from "../support/context.js";

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

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const T0 = Date.UTC(2026, 0, 2, 3, 0, 0);

/** One process' view of the history: its own store object over the shared Redis, its own clock. */
function processHistory(clock: { now: number }, fields: Partial<PoolHistoryDeps> = {}) {
  const store = new PoolHistoryStore(ctx.store, HOUR);
  const service = createPoolHistory({
    pools: ctx.poolsOf(() => [
      testPool({ minIdle: 2, warmScope: "acme" }),
      testPool({ name: "gpu", labels: ["self-hosted", "gpu"] }),
    ]),
    runners: ctx.runners,
    ledger: ctx.ledger,
    store,
    warmTarget: (pool) => Promise.resolve(pool.minIdle),
    sampleEveryMs: 15_000,
    windowMs: HOUR,
    pickupBucketMs: MINUTE,
    now: () => clock.now,
    ...fields,
  });
  return { store, service };
}

describe("the pool history in Redis", () => {
  it("gives percentiles over every process' pickups, and forgets those older than the window", async () => {
    const clock = { now: T0 };
    const a = processHistory(clock);
    const b = processHistory(clock);
    await a.store.recordPickup("linux", 1, T0 - 2 * HOUR, 50);
    for (let job = 0; job < 10; job += 1) {
      await (job % 2 === 0 ? a : b).store.recordPickup("linux", 100 + job, T0 - 30_000 + job, job + 1);
    }
    // Two jobs taken at the same moment after the same wait both count.
    await b.store.recordPickup("linux", 200, T0 - 90_000, 7);
    await a.store.recordPickup("linux", 201, T0 - 90_000, 7);
    clock.now = T0 + 1_000;
    const [linux] = await b.service.read();
    expect(linux?.pickups).toEqual([
      { at: T0 - 2 * MINUTE, p50: 7, p95: 7, jobs: 2 },
      { at: T0 - MINUTE, p50: 5, p95: 10, jobs: 10 },
    ]);
    expect(await ctx.redis.zcard(ctx.store.keys.pickups("linux"))).toBe(12);
    expect(await ctx.redis.pttl(ctx.store.keys.pickups("linux"))).toBeGreaterThan(HOUR - MINUTE);
  });

  it("keeps one sample per interval whichever process takes it: runners by state, demand and warm target", async () => {
    await ctx.runners.put(runnerRecord("linux-a", { state: "idle" }));
    await ctx.runners.put(runnerRecord("linux-b", { state: "busy" }));
    await ctx.runners.put(runnerRecord("linux-c", { state: "starting" }));
    await ctx.runners.put(runnerRecord("gpu-a", { pool: "gpu", state: "idle" }));
    await ctx.ledger.queued(provisionRequest(1));
    await ctx.ledger.queued(provisionRequest(2));
    const clock = { now: T0 + 3_000 };
    const a = processHistory(clock);
    const b = processHistory(clock, { warmTarget: () => Promise.resolve(99) });

    expect(await a.service.sample()).toEqual(["linux", "gpu"]);
    clock.now = T0 + 14_000;
    // The same interval: b's sample (with its other target) is not kept.
    expect(await b.service.sample()).toEqual([]);
    clock.now = T0 + 16_000;
    await ctx.runners.update("linux-a", { state: "busy" });
    expect(await b.service.sample()).toEqual(["linux", "gpu"]);

    clock.now = T0 + 20_000;
    const [linux, gpu] = await a.service.read();
    expect(linux).toMatchObject({ pool: "linux", from: T0 + 20_000 - HOUR, to: T0 + 20_000, target: 2 });
    expect(linux?.samples).toEqual([
      { at: T0, starting: 1, idle: 1, busy: 1, waiting: 2, target: 2 },
      { at: T0 + 15_000, starting: 1, idle: 0, busy: 2, waiting: 2, target: 99 },
    ]);
    expect(gpu?.samples.map((sample) => [sample.idle, sample.target])).toEqual([
      [1, 0],
      [1, 99],
    ]);
  });

  it("drops samples older than the window as it writes, and lets a silent pool's history expire", async () => {
    const clock = { now: T0 };
    const { service } = processHistory(clock);
    await service.sample();
    clock.now = T0 + HOUR + 30_000;
    await service.sample();
    const key = ctx.store.keys.poolSamples("linux");
    expect(await ctx.redis.hkeys(key)).toEqual([String(T0 + HOUR + 30_000)]);
    expect(await ctx.redis.pttl(key)).toBeGreaterThan(HOUR - MINUTE);
    expect((await service.read())[0]?.samples).toHaveLength(1);
  });
});
