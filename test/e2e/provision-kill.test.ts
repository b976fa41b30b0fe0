import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunnerRecord } from "../../src/state/runner-store.js";
import { waitFor } from "../sim/github-simulator.js";
import type { AppProcess } from "../support/app-process.js";
import { watchRunning } from "./support/running-count.js";
import { startStack, stubPool, type Stack } from "./support/stack.js";

/**
 * Fault: a worker killed (SIGKILL, through the test-only fault point RUNNERHUB_TEST_FAULT) right
 * after one step of provisioning a runner. A new worker's re-run of the queue entry (BullMQ moves
 * the entry back once the dead worker's lock, RUNNERHUB_PROVISION_LOCK, expires) must serve the job exactly once
 * and leave no container, record or slot behind, never running more than maxRunners.
 */
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    pools: [stubPool({ maxRunners: 1 })],
    env: { RUNNERHUB_ROLES: "webhook", RUNNERHUB_PROVISION_LOCK: "5s" },
  });
});

afterAll(async () => {
  await stack?.stop();
});

async function records(): Promise<RunnerRecord[]> {
  const names = await stack.redis.smembers(stack.keys.runners);
  if (names.length === 0) return [];
  const texts = await stack.redis.mget(...names.map((name) => stack.keys.runner(name)));
  return texts.flatMap((text) => (text ? [JSON.parse(text) as RunnerRecord] : []));
}

describe("a worker killed mid-provision", () => {
  it.each(["record-written", "registered", "container-started"])(
    "serves the job once after a kill right after %s",
    async (step) => {
      const watch = await watchRunning(stack.docker, "linux");
      let worker: AppProcess | undefined;
      try {
        const doomed = await stack.addProcess({
          RUNNERHUB_ROLES: "worker",
          NODE_ENV: "test",
          RUNNERHUB_TEST_FAULT: `kill-after:${step}`,
        });
        const job = await stack.sim.queueJob({
          owner: "acme",
          repo: "app",
          labels: ["self-hosted", "linux"],
          behavior: { kind: "run", seconds: 1 },
        });
        expect(await doomed.waitForExit(20_000)).toBeNull();
        worker = await stack.addProcess({ RUNNERHUB_ROLES: "worker" });
        await waitFor(() => stack.sim.getJob(job.id)?.conclusion === "success", {
          timeoutMs: 30_000,
          what: `the job served after a kill after ${step}`,
        }).catch((error: unknown) => {
          throw new Error(`${(error as Error).message}; worker log:\n${worker?.logs().slice(-60).join("\n")}`);
        });
        await waitFor(async () => watch.state.running === 0 && (await records()).length === 0, {
          timeoutMs: 20_000,
          what: "no runner, record or slot left",
        });
        expect(await stack.redis.zrange(stack.keys.slots("pool", "linux"), "0", "-1")).toEqual([]);
        expect(await stack.containers()).toEqual([]);
        expect(stack.sim.runners()).toEqual([]);
        expect(watch.state.max).toBe(1);
      } finally {
        // A worker left running would take the next case's job before its doomed worker does.
        await worker?.stop();
        watch.stop();
      }
    },
    90_000,
  );
});
