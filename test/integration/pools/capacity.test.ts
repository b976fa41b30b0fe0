import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ReserveRequest } from "../../../src/pools/capacity.js";
import { waitFor } from "../../sim/github-simulator.js";
import { serviceContext, type ServiceContext } from "../support/context.js";

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

function request(runner: string, fields: Partial<ReserveRequest> = {}): ReserveRequest {
  return {
    pool: "linux",
    fileMaxRunners: 5,
    engine: "one",
    engineCapacity: undefined,
    runner,
    leaseMs: 60_000,
    ...fields,
  };
}

describe("capacity slots in Redis", () => {
  it("gives exactly maxRunners slots to 40 reservations racing for them", async () => {
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => ctx.capacity.reserve(request(`r${i}`))));
    expect(results.filter((result) => result === "ok")).toHaveLength(5);
    expect(results.filter((result) => result === "pool-full")).toHaveLength(35);
  });

  it("holds an engine's capacity across pools", async () => {
    expect(await ctx.capacity.reserve(request("a", { pool: "small", engineCapacity: 2 }))).toBe("ok");
    expect(await ctx.capacity.reserve(request("b", { pool: "big", engineCapacity: 2 }))).toBe("ok");
    expect(await ctx.capacity.reserve(request("c", { pool: "big", engineCapacity: 2 }))).toBe("engine-full");
    expect(await ctx.capacity.reserve(request("c", { pool: "big", engine: "two", engineCapacity: 2 }))).toBe("ok");
  });

  it("obeys a run-time maxRunners override", async () => {
    await ctx.overrides.merge("linux", { maxRunners: 1 });
    expect(await ctx.capacity.reserve(request("a"))).toBe("ok");
    expect(await ctx.capacity.reserve(request("b"))).toBe("pool-full");
  });

  it("answers hasRoom without taking a slot", async () => {
    const one = { pool: "linux", fileMaxRunners: 1, engine: "one", engineCapacity: undefined };
    expect(await ctx.capacity.hasRoom(one)).toBe(true);
    expect(await ctx.capacity.hasRoom(one)).toBe(true);
    expect(await ctx.capacity.reserve(request("a", { fileMaxRunners: 1 }))).toBe("ok");
    expect(await ctx.capacity.hasRoom(one)).toBe(false);
  });

  it("reclaims a reservation its worker never confirmed, but never a confirmed slot", async () => {
    expect(await ctx.capacity.reserve(request("crashed", { fileMaxRunners: 2, leaseMs: 50 }))).toBe("ok");
    expect(await ctx.capacity.reserve(request("running", { fileMaxRunners: 2, leaseMs: 50 }))).toBe("ok");
    expect(await ctx.capacity.confirm(request("running", { fileMaxRunners: 2 }))).toBe("ok");
    await waitFor(async () => (await ctx.capacity.reserve(request("next", { fileMaxRunners: 2 }))) === "ok", {
      timeoutMs: 5_000,
      what: "the expired lease to be reclaimed",
    });
    expect(await ctx.capacity.reserve(request("more", { fileMaxRunners: 2 }))).toBe("pool-full");
    expect(await ctx.capacity.confirmedHolders("pool", "linux")).toEqual(["running"]);
  });

  it("refuses to confirm a runner whose lease ran out after its slot went to another", async () => {
    expect(await ctx.capacity.reserve(request("slow", { fileMaxRunners: 1, leaseMs: 50 }))).toBe("ok");
    await waitFor(async () => (await ctx.capacity.reserve(request("fast", { fileMaxRunners: 1 }))) === "ok", {
      timeoutMs: 5_000,
      what: "the slow runner's lease to run out",
    });
    expect(await ctx.capacity.confirm(request("slow", { fileMaxRunners: 1 }))).toBe("pool-full");
    expect(await ctx.capacity.holders("linux", Date.now())).toEqual(["fast"]);
  });

  it("frees a slot on release, and parks demand oldest first", async () => {
    expect(await ctx.capacity.reserve(request("a", { fileMaxRunners: 1 }))).toBe("ok");
    await ctx.capacity.park("pool", "linux", "job-2", 2000);
    await ctx.capacity.park("pool", "linux", "job-1", 1000);
    await ctx.capacity.release("linux", "one", "a");
    expect(await ctx.capacity.reserve(request("b", { fileMaxRunners: 1 }))).toBe("ok");
    expect(await ctx.capacity.popParked("pool", "linux")).toBe("job-1");
    expect(await ctx.capacity.popParked("pool", "linux")).toBe("job-2");
    expect(await ctx.capacity.popParked("pool", "linux")).toBeUndefined();
  });
});
