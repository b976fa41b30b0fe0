import { Queue, Worker } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRedisTarget } from "../../../src/state/redis-target.js";
import { connectRedis, type RedisHandle } from "../../../src/state/redis.js";
import { storeContext } from "../../../src/state/store-context.js";
import { waitFor } from "../../sim/github-simulator.js";
import { SentinelGroup } from "../../support/redis-sentinel.js";

/**
 * Redis behind three real Sentinels: runnerhub's client, its Lua scripts and a BullMQ queue and
 * worker (whose blocking connection is a duplicate of the client) follow the primary when it is
 * killed, with no reconnection code of their own.
 */
let group: SentinelGroup;
let handle: RedisHandle;

beforeAll(async () => {
  group = await SentinelGroup.start("itest", { downAfterMs: 1000, failoverTimeoutMs: 5000 });
}, 60_000);

afterAll(async () => {
  await handle?.close().catch(() => undefined);
  await group?.stop();
});

function sentinelTarget() {
  const parsed = parseRedisTarget(group.env);
  if (!parsed.ok || parsed.target === undefined) throw new Error("expected a Sentinel target");
  return parsed.target;
}

describe("Redis through Sentinel", () => {
  it("refuses to start, naming the variables, when no Sentinel knows the name", async () => {
    const target = { ...sentinelTarget(), name: "nobody" };
    await expect(connectRedis(target)).rejects.toThrow(/REDIS_SENTINELS \/ REDIS_SENTINEL_NAME.*"nobody"/);
  });

  it("follows the primary through a failover: scripts, plain commands and BullMQ's blocking reads", async () => {
    handle = await connectRedis(sentinelTarget());
    expect(handle.describe).toMatch(/^redis\+sentinel:\/\/127\.0\.0\.1:\d+,.*\/itest$/);
    const store = storeContext(handle.client, "itest");
    expect(await store.redis.runnerhubCompareAndSet("itest:cas", "", "before", 60_000)).toBe(1);
    const queue = new Queue("itest-queue", { connection: handle.client, prefix: "itest" });
    const seen: string[] = [];
    const worker = new Worker("itest-queue", async (job) => void seen.push(job.name), {
      connection: handle.client,
      prefix: "itest",
    });
    // Each reconnect attempt during the gap is an error event; unheard, BullMQ prints it.
    queue.on("error", () => undefined);
    worker.on("error", () => undefined);
    try {
      await queue.add("before", {});
      await waitFor(() => seen.includes("before"), { timeoutMs: 10_000, what: "the job added before the kill" });
      const killed = group.primary.port;
      await group.primary.kill();

      // During the gap a command waits (readiness shows it as a timeout) instead of failing.
      const during = store.redis.runnerhubCompareAndSet("itest:cas", "before", "after", 60_000);
      await queue.add("after", {});
      await waitFor(async () => (await group.currentPrimaryPort()) !== killed, {
        timeoutMs: 30_000,
        what: "the Sentinels to promote the replica",
      }).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}\n${group.logs()}`);
      });
      // The new primary never ran the script: EVALSHA's NOSCRIPT falls back to EVAL there. A
      // command whose answer was lost with a connection the Sentinels had dropped is sent again
      // (seen once under heavy load: the repeat answers 0), so the value is what tells.
      await during;
      expect(await handle.client.get("itest:cas")).toBe("after");
      await waitFor(() => seen.includes("after"), { timeoutMs: 20_000, what: "the job added during the failover" });
      expect(seen).toEqual(["before", "after"]);
      expect(Number(/tcp_port:(\d+)/.exec(await handle.client.info("server"))?.[1])).toBe(group.replica.port);
    } finally {
      await worker.close();
      await queue.close();
    }
  }, 60_000);

  it("loses no write through a planned failover, where the old primary is demoted while it runs", async () => {
    const store = storeContext(handle.client, "itest");
    const replica = await group.addReplica();
    let written = 0;
    let failure: unknown;
    let stop = false;
    // One compare-and-set after another: a write refused (READONLY) or lost breaks the chain.
    const writes = (async () => {
      await handle.client.set("itest:chain", "0");
      while (!stop) {
        try {
          const ok = await store.redis.runnerhubCompareAndSet(
            "itest:chain",
            String(written),
            String(written + 1),
            60_000,
          );
          if (ok !== 1) throw new Error(`chain broken at ${written}: ${await handle.client.get("itest:chain")}`);
          written++;
        } catch (error) {
          failure = error;
          return;
        }
      }
    })();
    await waitFor(() => written >= 20 || failure !== undefined, { timeoutMs: 10_000, what: "writes under way" });
    await group.failover();
    const atFailover = written;
    await waitFor(() => written >= atFailover + 20 || failure !== undefined, {
      timeoutMs: 20_000,
      what: "writes on the new primary",
    });
    stop = true;
    await writes;
    expect(failure).toBeUndefined();
    expect(await handle.client.get("itest:chain")).toBe(String(written));
    expect(await group.currentPrimaryPort()).toBe(replica.port);
  }, 60_000);
});
