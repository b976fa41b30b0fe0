import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { PROVISION_QUEUE } from "../../../src/queue/jobs.js";
import type { EngineSlots, SlotPool } from "../../../src/slots/slots.js";
import { waitFor } from "../../sim/github-simulator.js";
import { provisionRequest, serviceContext, type ServiceContext } from "../support/context.js";

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

interface At {
  pool?: string;
  maxRunners?: number;
  engine?: string;
  capacity?: number;
  leaseMs?: number;
}

/** The slots of engine "one" (no limit, 60 s leases) unless told, and pool "linux" (5 runners) unless told. */
function on(at: At = {}): { slots: EngineSlots; pool: SlotPool } {
  return {
    slots: ctx.slots.forEngine({ name: at.engine ?? "one", capacity: at.capacity }, at.leaseMs ?? 60_000),
    pool: { name: at.pool ?? "linux", maxRunners: at.maxRunners ?? 5 },
  };
}

function reserve(runner: string, at: At = {}) {
  const { slots, pool } = on(at);
  return slots.reserve(pool, runner);
}

function confirm(runner: string, at: At = {}) {
  const { slots, pool } = on(at);
  return slots.confirm(pool, runner);
}

describe("capacity slots in Redis", () => {
  it("gives exactly maxRunners slots to 40 reservations racing for them", async () => {
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => reserve(`r${i}`)));
    expect(results.filter((result) => result === "ok")).toHaveLength(5);
    expect(results.filter((result) => result === "pool-full")).toHaveLength(35);
  });

  it("holds an engine's capacity across pools", async () => {
    expect(await reserve("a", { pool: "small", capacity: 2 })).toBe("ok");
    expect(await reserve("b", { pool: "big", capacity: 2 })).toBe("ok");
    expect(await reserve("c", { pool: "big", capacity: 2 })).toBe("engine-full");
    expect(await reserve("c", { pool: "big", engine: "two", capacity: 2 })).toBe("ok");
  });

  it("obeys a run-time maxRunners override", async () => {
    await ctx.overrides.merge("linux", { maxRunners: 1 });
    expect(await reserve("a")).toBe("ok");
    expect(await reserve("b")).toBe("pool-full");
  });

  it("answers hasRoom without taking a slot", async () => {
    const { slots, pool } = on({ maxRunners: 1 });
    expect(await slots.hasRoom(pool)).toBe(true);
    expect(await slots.hasRoom(pool)).toBe(true);
    expect(await reserve("a", { maxRunners: 1 })).toBe("ok");
    expect(await slots.hasRoom(pool)).toBe(false);
  });

  it("reclaims a reservation its worker never confirmed, but never a confirmed slot", async () => {
    expect(await reserve("crashed", { maxRunners: 2, leaseMs: 50 })).toBe("ok");
    expect(await reserve("running", { maxRunners: 2, leaseMs: 50 })).toBe("ok");
    expect(await confirm("running", { maxRunners: 2 })).toBe("ok");
    await waitFor(async () => (await reserve("next", { maxRunners: 2 })) === "ok", {
      timeoutMs: 5_000,
      what: "the expired lease to be reclaimed",
    });
    expect(await reserve("more", { maxRunners: 2 })).toBe("pool-full");
    expect(await ctx.slots.confirmedHolders("pool", "linux")).toEqual(["running"]);
  });

  it("refuses to confirm a runner whose lease ran out after its slot went to another", async () => {
    expect(await reserve("slow", { maxRunners: 1, leaseMs: 50 })).toBe("ok");
    await waitFor(async () => (await reserve("fast", { maxRunners: 1 })) === "ok", {
      timeoutMs: 5_000,
      what: "the slow runner's lease to run out",
    });
    expect(await confirm("slow", { maxRunners: 1 })).toBe("pool-full");
    expect(await ctx.slots.holders("linux", Date.now())).toEqual(["fast"]);
  });

  it("frees a slot on release, and wakes parked demand oldest first", async () => {
    expect(await reserve("a", { maxRunners: 1 })).toBe("ok");
    for (const [id, queuedAt] of [
      ["job-2", 2000],
      ["job-1", 1000],
    ] as const) {
      await ctx.queues.provision.add(PROVISION_QUEUE, provisionRequest(queuedAt), { jobId: id, delay: 600_000 });
      await ctx.slots.park("pool", "linux", id, queuedAt);
    }
    const waiting = async () => (await ctx.queues.provision.getWaiting()).map((job) => job.id);
    await on().slots.release("linux", "a");
    expect(await reserve("b", { maxRunners: 1 })).toBe("ok");
    expect(await waiting()).toEqual(["job-1"]);
    expect(await on().slots.wake("linux")).toBe(true);
    expect((await waiting()).sort()).toEqual(["job-1", "job-2"]);
    expect(await on().slots.wake("linux")).toBe(false);
    expect(await ctx.slots.parkedCount("pool", "linux")).toBe(0);
  });
});
