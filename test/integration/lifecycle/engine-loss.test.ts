import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { GitHubRunner, RunnersApi } from "../../../src/github/runners-api.js";
import { forgetLostEngines } from "../../../src/lifecycle/engine-loss.js";
import { Heartbeats } from "../../../src/state/heartbeats.js";
import { RedisKeys } from "../../../src/state/keys.js";
import type { RunnerRecord } from "../../../src/state/runner-store.js";
import { serviceContext, type ServiceContext } from "../support/context.js";

const TIMEOUT_MS = 60_000;
let ctx: ServiceContext;
let heartbeats: Heartbeats;
let keys: RedisKeys;

beforeAll(async () => {
  ctx = await serviceContext();
  heartbeats = new Heartbeats(ctx.store);
  keys = new RedisKeys(ctx.prefix);
});

beforeEach(() => ctx.flushPrefix());

afterAll(() => ctx.close());

/** GitHub as far as engine loss asks it: the runners listed, and what deleting each answers. */
function github(listed: GitHubRunner[], busyIds: number[] = []) {
  const deleted: number[] = [];
  const api: Pick<RunnersApi, "listRunners" | "deleteRunner"> = {
    listRunners: async () => listed,
    deleteRunner: async (_target, runnerId) => {
      if (busyIds.includes(runnerId)) return "busy";
      deleted.push(runnerId);
      return listed.some((runner) => runner.id === runnerId) ? "deleted" : "missing";
    },
  };
  return { api, deleted };
}

async function runner(name: string, engine: string, runnerId: number | undefined): Promise<RunnerRecord> {
  const record: RunnerRecord = {
    name,
    pool: "linux",
    engine,
    installationId: 7,
    scope: { kind: "org", org: "acme" },
    githubJobId: 1,
    runnerId,
    containerId: `c-${name}`,
    state: "busy",
    busyJobId: undefined,
    createdAt: Date.now(),
    completedAt: undefined,
  };
  await ctx.runners.put(record);
  const slots = ctx.slots.forEngine({ name: engine, capacity: undefined });
  const pool = { name: "linux", maxRunners: 10 };
  await slots.reserve(pool, name);
  await slots.confirm(pool, name);
  return record;
}

/** A heartbeat as a worker wrote it long ago (its engine's runners are lost), or just now. */
async function beatAt(engine: string, ageMs: number, answeredAgeMs = ageMs): Promise<void> {
  const [seconds, micros] = await ctx.redis.time();
  const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  const beat = { engineId: `${engine}-id`, at: now - ageMs, answeredAt: now - answeredAgeMs };
  await ctx.redis.hset(keys.heartbeats, engine, JSON.stringify(beat));
}

function lossDeps(api: Pick<RunnersApi, "listRunners" | "deleteRunner">) {
  return {
    ...ctx,
    github: api,
    heartbeats,
    engine: "here",
    heartbeatTimeoutMs: TIMEOUT_MS,
    now: Date.now,
  };
}

describe("forgetLostEngines", () => {
  it("frees the slots of a lost engine's runners, except those GitHub reports busy, token-registered ones included", async () => {
    await beatAt("here", 0);
    await beatAt("gone", 2 * TIMEOUT_MS);
    await runner("linux-0000000a", "gone", undefined); // token mode, busy at GitHub
    await runner("linux-0000000b", "gone", undefined); // token mode, idle at GitHub
    await runner("linux-0000000c", "gone", undefined); // token mode, unknown to GitHub
    await runner("linux-0000000d", "gone", 40); // JIT, busy at GitHub
    const { api, deleted } = github(
      [
        { id: 10, name: "linux-0000000a", online: true, busy: true, labels: [] },
        { id: 11, name: "linux-0000000b", online: true, busy: false, labels: [] },
      ],
      [40],
    );

    expect(await forgetLostEngines(lossDeps(api))).toEqual([]);

    expect(deleted).toEqual([11]);
    expect((await ctx.runners.list()).map((record) => record.name).sort()).toEqual([
      "linux-0000000a",
      "linux-0000000d",
    ]);
    expect((await ctx.slots.confirmedHolders("pool", "linux")).sort()).toEqual(["linux-0000000a", "linux-0000000d"]);
    // Runners kept busy keep the engine's heartbeat too: the next pass tries them again.
    expect(await ctx.redis.hexists(keys.heartbeats, "gone")).toBe(1);
  });

  it("gives up an engine that stopped answering while its worker still beats", async () => {
    await beatAt("here", 0);
    await beatAt("unanswering", 0, 2 * TIMEOUT_MS);
    await runner("linux-0000000e", "unanswering", 50);
    const { api, deleted } = github([{ id: 50, name: "linux-0000000e", online: false, busy: false, labels: [] }]);

    expect(await forgetLostEngines(lossDeps(api))).toEqual(["unanswering"]);

    expect(deleted).toEqual([50]);
    expect(await ctx.runners.list()).toEqual([]);
    expect(await ctx.slots.confirmedHolders("engine", "unanswering")).toEqual([]);
  });

  it("gives nothing up when every engine looks silent, this one's included", async () => {
    await beatAt("here", 2 * TIMEOUT_MS);
    await beatAt("gone", 2 * TIMEOUT_MS);
    await runner("linux-0000000f", "gone", 60);
    const { api, deleted } = github([]);

    expect(await forgetLostEngines(lossDeps(api))).toEqual([]);

    expect(deleted).toEqual([]);
    expect((await ctx.runners.list()).map((record) => record.name)).toEqual(["linux-0000000f"]);
  });
});

describe("Heartbeats.beat", () => {
  it("says 'new' when the engine answers again after a silence past the timeout, 'taken' for a live other engine", async () => {
    expect(await heartbeats.beat("x", "x-id", 1_000)).toEqual({ kind: "new" });
    expect(await heartbeats.beat("x", "x-id", 1_000, false)).toEqual({ kind: "ok" });
    await beatAt("x", 0, 5_000);
    expect(await heartbeats.beat("x", "x-id", 1_000, true)).toEqual({ kind: "new" });
    expect(await heartbeats.beat("x", "other-id", 1_000)).toEqual({ kind: "taken", otherEngineId: "x-id" });
    expect(await heartbeats.read(1_000, [])).toEqual([
      expect.objectContaining({ engine: "x", engineId: "x-id", silent: false }),
    ]);
  });
});
