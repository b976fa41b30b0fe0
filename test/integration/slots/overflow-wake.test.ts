import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { overflowingInto } from "../../../src/pools/overflow.js";
import { PROVISION_QUEUE } from "../../../src/queue/jobs.js";
import { Slots } from "../../../src/slots/slots.js";
import { storeContext } from "../../../src/state/store-context.js";
import {
  provisionRequest,
  secondProcess,
  serviceContext,
  type SecondProcess,
  type ServiceContext,
} from "../support/context.js";

// small and tiny overflow into big; shared (fair share) overflows into wide.
const POOLS = [
  { name: "small", overflow: "big" },
  { name: "tiny", overflow: "big" },
  { name: "big" },
  { name: "shared", overflow: "wide" },
  { name: "wide" },
];
const perRepository = (pool: string) => (pool === "shared" ? 2 : undefined);
const overflowing = (pool: string) => overflowingInto(pool, POOLS);

let ctx: ServiceContext;
/** A second process: its own Redis connection, queue and slots, over the same keys. */
let other: SecondProcess & { slots: Slots };

beforeAll(async () => {
  ctx = await serviceContext();
  const second = secondProcess(ctx.prefix);
  other = {
    ...second,
    slots: new Slots(
      storeContext(second.redis, ctx.prefix),
      second.queues.provision,
      ctx.log,
      perRepository,
      overflowing,
    ),
  };
});

afterEach(async () => {
  await ctx.flushPrefix();
});

afterAll(async () => {
  await other.close();
  await ctx.close();
});

const here = () => new Slots(ctx.store, ctx.queues.provision, ctx.log, perRepository, overflowing);

/** Parks a delayed provision entry on a pool (or engine), as a worker does when it is full. */
async function park(id: string, on: { pool?: string; engine?: string }, queuedAt: number, repository?: string) {
  await ctx.queues.provision.add(PROVISION_QUEUE, provisionRequest(queuedAt), { jobId: id, delay: 600_000 });
  if (on.pool) await ctx.slots.park("pool", on.pool, id, queuedAt, repository);
  else await ctx.slots.park("engine", on.engine ?? "one", id, queuedAt);
}

const waitingIds = async () => (await ctx.queues.provision.getWaiting()).map((job) => job.id).sort();

describe("a slot freed in an overflow pool wakes the demand parked on the pools overflowing into it", () => {
  it("wakes the oldest entry parked on a pool that overflows into it, before the engine's", async () => {
    await park("small-1", { pool: "small" }, 2_000);
    await park("tiny-1", { pool: "tiny" }, 1_000);
    await park("engine-1", { engine: "one" }, 500);
    await here().release("big", "runner-1", "one");
    expect(await waitingIds()).toEqual(["tiny-1"]);
    await here().release("big", "runner-2", "one");
    expect(await waitingIds()).toEqual(["small-1", "tiny-1"]);
    await here().release("big", "runner-3", "one");
    expect(await waitingIds()).toEqual(["engine-1", "small-1", "tiny-1"]);
  });

  it("serves the pool's own parked demand first, and never the demand of a pool it overflows into", async () => {
    await park("big-1", { pool: "big" }, 3_000);
    await park("small-1", { pool: "small" }, 1_000);
    await here().release("big", "runner-1", "one");
    expect(await waitingIds()).toEqual(["big-1"]);
    // small's release has nothing of its own parked, and big does not overflow into small.
    await park("big-2", { pool: "big" }, 4_000);
    await here().release("small", "runner-2", "two");
    expect(await waitingIds()).toEqual(["big-1", "small-1"]);
  });

  it("keeps a fair-share pool's repositories' turns when its demand overflows", async () => {
    await park("a-1", { pool: "shared" }, 1_000, "acme/a");
    await park("a-2", { pool: "shared" }, 2_000, "acme/a");
    await park("b-1", { pool: "shared" }, 3_000, "acme/b");
    await here().release("wide", "runner-1", "one");
    expect(await waitingIds()).toEqual(["a-1"]);
    await here().release("wide", "runner-2", "one");
    expect(await waitingIds()).toEqual(["a-1", "b-1"]);
  });

  it("gives each parked entry to one release only, when two processes free slots at once", async () => {
    await Promise.all(Array.from({ length: 6 }, (_, i) => park(`small-${i}`, { pool: "small" }, 1_000 + i)));
    const releases = Array.from({ length: 4 }, (_, i) =>
      (i % 2 === 0 ? here() : other.slots).release("big", `runner-${i}`, "one"),
    );
    await Promise.all(releases);
    expect(await waitingIds()).toHaveLength(4);
    expect(await ctx.slots.parkedCount("pool", "small")).toBe(2);
  });
});
