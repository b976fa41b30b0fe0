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
      // The new primary never ran the script: EVALSHA's NOSCRIPT falls back to EVAL there.
      expect(await during).toBe(1);
      expect(await handle.client.get("itest:cas")).toBe("after");
      await waitFor(() => seen.includes("after"), { timeoutMs: 20_000, what: "the job added during the failover" });
      expect(seen).toEqual(["before", "after"]);
      expect(Number(/tcp_port:(\d+)/.exec(await handle.client.info("server"))?.[1])).toBe(group.replica.port);
    } finally {
      await worker.close();
      await queue.close();
    }
  }, 60_000);
});
