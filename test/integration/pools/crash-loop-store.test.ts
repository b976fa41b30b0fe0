import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CRASH_LOOP_POLICY } from "../../../src/pools/crash-loop.js";
import { serviceContext, testPool, type ServiceContext } from "../support/context.js";

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

const crash = (runnerName: string, at: number) => ({ runnerName, exitCode: 1, reason: "crashed" as const, at });

describe("CrashLoopStore on Redis", () => {
  it("counts every one of many crashes counted at once, and begins one backoff", async () => {
    const pool = testPool();
    const at = Date.now();
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, (_, index) => ctx.crashLoops.recordCrash(pool, crash(`linux-${index}`, at))),
    );
    expect(outcomes.filter((outcome) => outcome.backoffBegun)).toHaveLength(1);
    expect(await ctx.crashLoops.get(pool.name)).toMatchObject({
      crashes: 12,
      backoffs: 1,
      backoffUntil: at + CRASH_LOOP_POLICY.firstBackoffMs,
    });
    const ttl = await ctx.redis.pttl(`${ctx.prefix}:crash-loop:${pool.name}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(CRASH_LOOP_POLICY.memoryMs);

    expect(await ctx.crashLoops.clear(pool.name)).toBe(true);
    expect(await ctx.crashLoops.clear(pool.name)).toBe(false);
    expect(await ctx.crashLoops.getMany([pool.name, "other"])).toEqual(new Map());
  });
});
