import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunnerRecord } from "../../src/state/runner-store.js";
import { waitFor } from "../sim/github-simulator.js";
import { RedisServer } from "../support/redis-server.js";
import { watchRunning } from "./support/running-count.js";
import { queueLinuxJobs, startStack, stubPool, type Stack } from "./support/stack.js";

/**
 * Fault: Redis comes back empty (a restart without persistence) while two runners are busy. No
 * record, slot or scope is left to go by; the runners must survive, finish their jobs, and be
 * counted again (no slot above maxRunners), also by a worker started afresh on the empty Redis.
 */
const FAST = {
  RUNNERHUB_HEARTBEAT_INTERVAL: "1s",
  RUNNERHUB_HEARTBEAT_TIMEOUT: "5s",
  RUNNERHUB_RECONCILE_INTERVAL: "2s",
  // Shorter than the jobs: a runner without a record is judged well before its job ends.
  RUNNERHUB_BOOTSTRAP_TIMEOUT: "5s",
};
let redisServer: RedisServer;
let stack: Stack;

beforeAll(async () => {
  redisServer = await RedisServer.start();
  stack = await startStack({
    redisUrl: redisServer.url,
    pools: [stubPool({ maxRunners: 2 })],
    env: { ...FAST, RUNNERHUB_ROLES: "webhook" },
  });
});

afterAll(async () => {
  await stack?.stop();
  await redisServer?.stop();
});

async function records(): Promise<RunnerRecord[]> {
  const names = await stack.redis.smembers(stack.keys.runners);
  if (names.length === 0) return [];
  const texts = await stack.redis.mget(...names.map((name) => stack.keys.runner(name)));
  return texts.flatMap((text) => (text ? [JSON.parse(text) as RunnerRecord] : []));
}

describe("Redis restarted with no data while runners are busy", () => {
  it("keeps the busy runners, adopts them from their labels, and lets them finish their jobs", async () => {
    const worker = await stack.addProcess({ RUNNERHUB_ROLES: "worker" });
    const watch = await watchRunning(stack.docker, "linux");
    try {
      const jobs = await queueLinuxJobs(stack.sim, 2, { kind: "run", seconds: 25 });
      await waitFor(() => jobs.every((job) => stack.sim.getJob(job.id)?.status === "in_progress"), {
        timeoutMs: 20_000,
        what: "both jobs taken",
      });
      const busy = jobs.map((job) => stack.sim.getJob(job.id)?.runnerName ?? "").sort();

      // The live worker writes again as soon as it reconnects, so emptiness is read off a key only
      // this test writes, not off the size of the database.
      const marker = "redis-loss-test:written-before-restart";
      await stack.redis.set(marker, "1");
      redisServer = await redisServer.restartEmpty();
      expect(await stack.redis.exists(marker)).toBe(0);

      // The live worker finds its heartbeat gone and adopts its containers from their labels. An
      // adoption writes the record, then takes the slot: both are waited for, not read in between.
      const adopted = await waitFor(
        async () => {
          const found = (await records()).filter((record) => busy.includes(record.name));
          const slots = await stack.redis.zrange(stack.keys.slots("pool", "linux"), "0", "-1");
          return found.length === 2 && busy.every((name) => slots.includes(name)) && { found, slots };
        },
        { timeoutMs: 15_000, what: "both busy runners adopted, each holding a slot" },
      ).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}; worker log:\n${worker.logs().slice(-30).join("\n")}`);
      });
      expect(adopted.found.map((record) => record.state)).toEqual(["busy", "busy"]);
      expect(adopted.slots.sort()).toEqual(busy);

      // A worker started afresh on the emptied Redis does not stop them either.
      await worker.stop("SIGKILL");
      const fresh = await stack.addProcess({ RUNNERHUB_ROLES: "worker" });
      await waitFor(() => jobs.every((job) => stack.sim.getJob(job.id)?.conclusion === "success"), {
        timeoutMs: 40_000,
        what: "both jobs to finish on their runners",
      }).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}; worker log:\n${fresh.logs().slice(-30).join("\n")}`);
      });
      expect(jobs.map((job) => stack.sim.getJob(job.id)?.runnerName).sort()).toEqual(busy);
      await waitFor(async () => watch.state.running === 0 && (await records()).length === 0, {
        timeoutMs: 20_000,
        what: "both runners gone and their records retired",
      });
      expect(watch.state.max).toBeLessThanOrEqual(2);
      expect(watch.state.starts).toBe(2);
      expect(await stack.redis.zrange(stack.keys.slots("pool", "linux"), "0", "-1")).toEqual([]);
      expect(await stack.containers()).toEqual([]);
    } finally {
      watch.stop();
    }
  }, 90_000);
});
