import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { PROVISION_QUEUE } from "../../../src/queue/jobs.js";
import { Slots, type SlotPool } from "../../../src/slots/slots.js";
import { storeContext } from "../../../src/state/store-context.js";
import {
  provisionRequest,
  secondProcess,
  serviceContext,
  type SecondProcess,
  type ServiceContext,
} from "../support/context.js";

const POOL: SlotPool = { name: "shared", maxRunners: 4, perRepository: { maxRunners: 3 } };
const perRepository = (pool: string) => (pool === POOL.name ? 3 : undefined);

let ctx: ServiceContext;
/** A second process: its own Redis connection, queue and slots, over the same keys. */
let other: SecondProcess & { slots: Slots };

beforeAll(async () => {
  ctx = await serviceContext();
  const second = secondProcess(ctx.prefix);
  other = {
    ...second,
    slots: new Slots(storeContext(second.redis, ctx.prefix), second.queues.provision, ctx.log, perRepository),
  };
});

afterEach(async () => {
  await ctx.flushPrefix();
});

afterAll(async () => {
  await other.close();
  await ctx.close();
});

/** This process's slots (engine "one", no engine limit) and the other process's. */
function processes() {
  const here = new Slots(ctx.store, ctx.queues.provision, ctx.log, perRepository);
  return [
    here.forEngine({ name: "one", capacity: undefined }),
    other.slots.forEngine({ name: "two", capacity: undefined }),
  ];
}

/** Parks a delayed provision entry of `repository` on the pool, as a worker does on a full pool. */
async function park(id: string, repository: string, queuedAt: number): Promise<void> {
  await ctx.queues.provision.add(PROVISION_QUEUE, provisionRequest(queuedAt), { jobId: id, delay: 600_000 });
  await ctx.slots.park("pool", POOL.name, id, queuedAt, repository);
}

const waitingIds = async () => (await ctx.queues.provision.getWaiting()).map((job) => job.id);

describe("fair-share slots in Redis", () => {
  it("never lets two processes racing for slots exceed the pool's or a repository's ceiling", async () => {
    const [here, there] = processes();
    const repos = ["acme/a", "acme/b", "acme/c"];
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => {
        const slots = i % 2 === 0 ? here : there;
        const repository = repos[i % 3] ?? "acme/a";
        return slots?.reserve(POOL, `r${i}`, repository).then((result) => ({ result, repository }));
      }),
    );
    const ok = results.filter((entry) => entry?.result === "ok");
    expect(ok).toHaveLength(4);
    for (const repository of repos) {
      expect(ok.filter((entry) => entry?.repository === repository).length).toBeLessThanOrEqual(3);
    }
    expect(await ctx.slots.holders(POOL.name, Date.now())).toHaveLength(4);
  });

  it("gives one repository racing alone no more than its ceiling, and the rest of the pool to another", async () => {
    const [here, there] = processes();
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? here : there)?.reserve(POOL, `a${i}`, "acme/a")),
    );
    expect(results.filter((result) => result === "ok")).toHaveLength(3);
    expect(results.filter((result) => result === "repo-full")).toHaveLength(27);
    expect(await here?.hasRoom(POOL, "acme/a")).toBe(false);
    expect(await here?.reserve(POOL, "b0", "acme/b")).toBe("ok");
    expect(await there?.reserve(POOL, "b1", "acme/b")).toBe("pool-full");
    // A confirmed slot counts for its repository as a lease does, and freeing it frees both.
    expect(await here?.confirm(POOL, "b0", "acme/b")).toBe("ok");
    const [first] = await ctx.slots.holders(POOL.name, Date.now());
    await here?.release(POOL.name, first ?? "");
    expect(await ctx.slots.repositories(POOL.name)).toEqual(
      first === "b0"
        ? [{ repository: "acme/a", slots: 3, parked: 0 }]
        : [
            { repository: "acme/a", slots: 2, parked: 0 },
            { repository: "acme/b", slots: 1, parked: 0 },
          ],
    );
  });

  it("frees a repository's slot when a runner record is retired", async () => {
    const [here] = processes();
    expect(await here?.reserve(POOL, "a0", "acme/a")).toBe("ok");
    await ctx.runners.put({ ...runnerOf("a0"), pool: POOL.name });
    await ctx.runners.retire("a0", { exitedAt: Date.now(), exitCode: 0, oomKilled: false, reason: "completed" });
    expect(await ctx.slots.repositories(POOL.name)).toEqual([]);
    expect(await ctx.slots.holders(POOL.name, Date.now())).toEqual([]);
  });

  it("wakes parked demand round-robin by repository, oldest first within each, passing over one at its ceiling", async () => {
    const [here] = processes();
    for (const runner of ["a0", "a1", "a2"]) expect(await here?.reserve(POOL, runner, "acme/a")).toBe("ok");
    await park("a-3", "acme/a", 3000);
    await park("a-4", "acme/a", 4000);
    await park("a-5", "acme/a", 5000);
    await park("b-2", "acme/b", 6000);
    await park("b-1", "acme/b", 5500);
    await park("c-1", "acme/c", 7000);
    expect(await ctx.slots.parkedCount("pool", POOL.name)).toBe(6);
    // acme/a holds its three: its turn passes to acme/b without losing its place.
    expect(await here?.wake(POOL.name)).toBe(true);
    expect(await waitingIds()).toEqual(["b-1"]);
    // Freeing one of acme/a's slots wakes acme/a's oldest: it kept its place at the head.
    await here?.release(POOL.name, "a0");
    expect((await waitingIds()).sort()).toEqual(["a-3", "b-1"]);
    const order: (string | undefined)[] = [];
    for (let i = 0; i < 4; i++) {
      const before = new Set(await waitingIds());
      expect(await here?.wake(POOL.name)).toBe(true);
      order.push((await waitingIds()).find((id) => !before.has(id)));
    }
    expect(order).toEqual(["c-1", "b-2", "a-4", "a-5"]);
    expect(await here?.wake(POOL.name)).toBe(false);
    expect(await ctx.slots.parkedCount("pool", POOL.name)).toBe(0);
  });

  it("never wakes one entry twice nor skips a repository when two processes wake at once", async () => {
    const [here, there] = processes();
    const repos = ["acme/a", "acme/b", "acme/c", "acme/d"];
    for (let i = 0; i < 20; i++) await park(`e-${i}`, repos[i % 4] ?? "acme/a", 1000 + i);
    const woken = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? here : there)?.wake(POOL.name)));
    expect(woken.every(Boolean)).toBe(true);
    const ids = await waitingIds();
    expect(new Set(ids).size).toBe(8);
    // Two full turns: each repository's two oldest entries, none a third.
    expect(ids.sort()).toEqual(["e-0", "e-1", "e-2", "e-3", "e-4", "e-5", "e-6", "e-7"].sort());
    expect(await ctx.slots.parkedCount("pool", POOL.name)).toBe(12);
  });
});

function runnerOf(name: string) {
  return {
    name,
    pool: POOL.name,
    engine: "one",
    engineId: "id-one",
    installationId: 1,
    scope: { kind: "repo" as const, owner: "acme", repo: "a" },
    githubJobId: 1,
    runnerId: undefined,
    containerId: undefined,
    state: "starting" as const,
    busyJobId: undefined,
    createdAt: Date.now(),
    completedAt: undefined,
    repository: "acme/a",
    provisionEntry: undefined,
  };
}
