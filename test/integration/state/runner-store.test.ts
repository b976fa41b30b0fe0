import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { freeRunners } from "../../../src/pools/supply.js";
import { runnerRecord, serviceContext, type ServiceContext } from "../support/context.js";

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

const freeNames = async (pool = "linux") => (await ctx.runners.listFree(pool)).map((record) => record.name).sort();
const exit = { exitedAt: 1, exitCode: 0, oomKilled: false, reason: "test" };

describe("RunnerStore's free runners per pool", () => {
  it("follows every write of a record: starting and idle in, busy, retiring and retired out", async () => {
    await ctx.runners.put(runnerRecord("linux-a"));
    await ctx.runners.put(runnerRecord("linux-b", { state: "idle" }));
    await ctx.runners.put(runnerRecord("linux-c", { state: "busy" }));
    await ctx.runners.put(runnerRecord("big-a", { pool: "big" }));
    expect(await freeNames()).toEqual(["linux-a", "linux-b"]);
    expect(await freeNames("big")).toEqual(["big-a"]);

    await ctx.runners.update("linux-a", { state: "busy", busyJobId: 9 });
    // A state read from an older snapshot does not make a busy runner free again.
    await ctx.runners.update("linux-a", { state: "idle" }, { keepBusy: true });
    await ctx.runners.update("linux-b", { retiring: "idle-timeout" });
    expect(await freeNames()).toEqual([]);

    await ctx.runners.update("linux-c", { state: "idle" });
    expect(await freeNames()).toEqual(["linux-c"]);
    await ctx.runners.retire("linux-c", exit);
    await ctx.runners.retire("big-a", exit);
    expect(await freeNames()).toEqual([]);
    expect(await freeNames("big")).toEqual([]);
  });

  it("holds exactly what freeRunners picks from all the pool's records", async () => {
    const states = ["starting", "idle", "busy"] as const;
    for (let i = 0; i < 30; i++) {
      const retiring = i % 4 === 0 ? { retiring: "drained" } : {};
      await ctx.runners.put(runnerRecord(`linux-${i}`, { state: states[i % 3], ...retiring }));
    }
    for (let i = 0; i < 30; i += 5) await ctx.runners.update(`linux-${i}`, { state: states[(i + 1) % 3] });
    const expected = freeRunners("linux", await ctx.runners.list()).map((record) => record.name);
    expect(await freeNames()).toEqual(expected.sort());
  });
});

describe("RunnerStore.retire", () => {
  it("frees the runner's pool and engine slots in the same step as it removes the record", async () => {
    const slots = ctx.slots.forEngine({ name: "test-engine", capacity: 2 });
    const pool = { name: "linux", maxRunners: 2 };
    for (const name of ["linux-a", "linux-b"]) {
      await ctx.runners.put(runnerRecord(name));
      expect(await slots.reserve(pool, name)).toBe("ok");
    }
    expect(await slots.confirm(pool, "linux-b")).toBe("ok");

    // Nothing else is called: a reader right after the record went finds no slot of it (leased or confirmed).
    await ctx.runners.retire("linux-a", exit);
    await ctx.runners.retire("linux-b", exit);
    expect(await ctx.slots.allHolders("pool", "linux")).toEqual([]);
    expect(await ctx.slots.allHolders("engine", "test-engine")).toEqual([]);
    expect(await ctx.runners.list()).toEqual([]);
  });

  it("leaves other runners' slots, and frees nothing for a runner without a record", async () => {
    const slots = ctx.slots.forEngine({ name: "test-engine", capacity: 2 });
    const pool = { name: "linux", maxRunners: 2 };
    await ctx.runners.put(runnerRecord("linux-kept"));
    expect(await slots.reserve(pool, "linux-kept")).toBe("ok");
    expect(await slots.reserve(pool, "linux-norecord")).toBe("ok");

    expect(await ctx.runners.retire("linux-norecord", exit)).toBeUndefined();
    expect((await ctx.slots.allHolders("pool", "linux")).sort()).toEqual(["linux-kept", "linux-norecord"]);
    expect((await ctx.slots.allHolders("engine", "test-engine")).sort()).toEqual(["linux-kept", "linux-norecord"]);
  });
});
