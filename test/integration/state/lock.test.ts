import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { LockLost, underLock, type Lease } from "../../../src/state/lock.js";
import { serviceContext, type ServiceContext } from "../support/context.js";

let ctx: ServiceContext;
/** A second process: its own Redis connection. */
let other: Redis;

beforeAll(async () => {
  ctx = await serviceContext();
  other = ctx.redis.duplicate();
});

afterEach(async () => {
  await ctx.flushPrefix();
});

afterAll(async () => {
  await other.quit();
  await ctx.close();
});

/** Short, so work outlives several leases within a second or two. */
const LEASE_MS = 300;
const lockKey = () => `${ctx.prefix}:lock:test`;

/** Resolves once the lease reports its lock lost; rejects if that does not happen within timeoutMs. */
function lossOf(lease: Lease, timeoutMs: number): Promise<unknown> {
  if (lease.signal.aborted) return Promise.resolve(lease.signal.reason);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`lock not reported lost within ${timeoutMs} ms`)), timeoutMs);
    lease.signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve(lease.signal.reason);
    });
  });
}

describe("underLock", () => {
  it("keeps its lock while work runs past the lease; a second underLock meanwhile gets undefined", async () => {
    const secondRan: boolean[] = [];
    let tries = 0;
    const result = await underLock(ctx.redis, lockKey(), LEASE_MS, async (lease) => {
      // Slow work: four leases long, while another process keeps trying to take the lock.
      const until = performance.now() + 4 * LEASE_MS;
      while (performance.now() < until) {
        const second = await underLock(other, lockKey(), LEASE_MS, () => {
          secondRan.push(true);
          return Promise.resolve("second");
        });
        expect(second).toBeUndefined();
        tries++;
        await sleep(LEASE_MS / 5);
      }
      lease.assertHeld();
      expect(lease.signal.aborted).toBe(false);
      return "first";
    });
    expect(result).toBe("first");
    expect(secondRan).toEqual([]);
    expect(tries).toBeGreaterThan(4);
    // Released when the work ended: the next holder gets it at once.
    expect(await ctx.redis.exists(lockKey())).toBe(0);
    expect(await underLock(other, lockKey(), LEASE_MS, () => Promise.resolve("next"))).toBe("next");
  });

  it("tells the work when another process holds its lock, and leaves that holder's lock alone", async () => {
    const outcome = await underLock(ctx.redis, lockKey(), LEASE_MS, async (lease) => {
      // What a lease that ran out looks like from here: the key expired and another process took it.
      await other.set(lockKey(), "another-holder", "PX", 60_000);
      const reason = await lossOf(lease, 10 * LEASE_MS);
      expect(reason).toBeInstanceOf(LockLost);
      expect(() => lease.assertHeld()).toThrow(LockLost);
      expect(() => lease.assertHeld()).toThrow(/lock .*:lock:test was lost/);
      return "gave up";
    });
    expect(outcome).toBe("gave up");
    expect(await ctx.redis.get(lockKey())).toBe("another-holder");
  });

  it("counts a lease that runs out unrenewed (Redis not answering) as lost", async () => {
    const outcome = await underLock(ctx.redis, lockKey(), LEASE_MS, async (lease) => {
      // Writes (the renewal script among them) wait while Redis is paused for longer than the lease.
      await other.call("CLIENT", "PAUSE", String(6 * LEASE_MS), "WRITE");
      const reason = await lossOf(lease, 5 * LEASE_MS);
      expect(reason).toBeInstanceOf(LockLost);
      expect((reason as LockLost).reason).toMatch(/not renewed within its 300 ms lease/);
      return "gave up";
    });
    expect(outcome).toBe("gave up");
  });
});
