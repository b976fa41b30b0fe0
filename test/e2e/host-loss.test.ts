import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../sim/github-simulator.js";
import { buildStubImage } from "../sim/stub-image.js";
import type { AppProcess } from "../support/app-process.js";
import { DockerEngine } from "../support/docker-engine.js";
import { queueLinuxJobs, startStack, stubPool, type Stack } from "./support/stack.js";

/**
 * Fault: a host vanishes with its worker. Worker A runs on a private dockerd of its own and holds
 * both runners of a pool with maxRunners 2; it is killed with SIGKILL and its engine stopped.
 * Worker B, under another engine name, must serve the pool's next jobs once A's heartbeat has been
 * silent past the timeout, and nothing of A (records, slots, registrations) may stay behind.
 */
const TIMEOUT_MS = 5_000;
const FAST = {
  RUNNERHUB_HEARTBEAT_INTERVAL: "1s",
  RUNNERHUB_HEARTBEAT_TIMEOUT: `${TIMEOUT_MS}ms`,
  RUNNERHUB_RECONCILE_INTERVAL: "2s",
};
let stack: Stack;
const engines: DockerEngine[] = [];

beforeAll(async () => {
  // The front process only takes webhooks: every runner is made by worker A or B.
  stack = await startStack({
    pools: [stubPool({ maxRunners: 2, minIdle: 2, warmScope: "acme" })],
    env: { ...FAST, RUNNERHUB_ROLES: "webhook" },
  });
});

afterAll(async () => {
  await stack?.stop();
  for (const engine of engines) await engine.destroy();
});

async function privateEngine(withImage: boolean): Promise<DockerEngine> {
  const engine = await DockerEngine.start();
  engines.push(engine);
  if (withImage) await buildStubImage(engine.client());
  return engine;
}

describe("host loss", () => {
  it("serves the next jobs from another engine once the lost one's heartbeat is silent past its timeout", async () => {
    const hostA = await privateEngine(true);
    const workerA: AppProcess = await stack.addProcess({
      RUNNERHUB_ROLES: "worker",
      DOCKER_HOST: hostA.dockerHost,
      RUNNERHUB_ENGINE_NAME: "host-a",
    });
    // minIdle 2 makes worker A start the pool's two runners; they sit idle holding both slots.
    const onA = await waitFor(
      async () => {
        const records = (await stack.redis.mget(
          ...(await stack.redis.smembers(stack.keys.runners)).map((name) => stack.keys.runner(name)),
        )) as (string | null)[];
        const idle = records
          .flatMap((text) => (text ? [JSON.parse(text) as { name: string; engine: string; containerId?: string }] : []))
          .filter((record) => record.engine === "host-a" && record.containerId);
        const online = idle.filter((record) => stack.sim.runners().some((r) => r.name === record.name && r.online));
        return online.length === 2 && online.map((record) => record.name);
      },
      { timeoutMs: 30_000, what: "two idle runners on host-a" },
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}; worker A log:\n${workerA.logs().slice(-30).join("\n")}`);
    });
    const workerB = await stack.addProcess({ RUNNERHUB_ROLES: "worker", RUNNERHUB_ENGINE_NAME: "host-b" });

    await workerA.stop("SIGKILL");
    await hostA.stop();
    const jobs = await queueLinuxJobs(stack.sim, 2, { kind: "run", seconds: 1 });
    // The timeout, a reconcile interval, and a margin for starting two runners.
    await waitFor(() => jobs.every((job) => stack.sim.getJob(job.id)?.conclusion === "success"), {
      timeoutMs: TIMEOUT_MS + 2_000 + 25_000,
      what: "both new jobs served by worker B",
    }).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}; worker B log:\n${workerB.logs().slice(-30).join("\n")}`);
    });
    for (const job of jobs) expect(onA).not.toContain(stack.sim.getJob(job.id)?.runnerName);

    // Nothing of host-a is left: records, slots, registrations at GitHub, heartbeat.
    const names = await stack.redis.smembers(stack.keys.runners);
    expect(names.filter((name) => onA.includes(name))).toEqual([]);
    expect(await stack.redis.zcard(stack.keys.slots("engine", "host-a"))).toBe(0);
    const poolSlots = await stack.redis.zrange(stack.keys.slots("pool", "linux"), "0", "-1");
    expect(poolSlots.filter((name) => onA.includes(name))).toEqual([]);
    expect(stack.sim.runners().filter((runner) => onA.includes(runner.name))).toEqual([]);
    expect(await stack.redis.hexists(stack.keys.heartbeats, "host-a")).toBe(0);
    expect(workerB.logs().some((line) => line.includes("its runners given up"))).toBe(true);
  }, 90_000);

  it("refuses to start a worker whose engine name a live worker of another engine uses", async () => {
    const other = await privateEngine(false);
    const refused = await stack
      .addProcess({ RUNNERHUB_ROLES: "worker", DOCKER_HOST: other.dockerHost, RUNNERHUB_ENGINE_NAME: "host-b" })
      .then(
        async (process) => {
          await process.stop("SIGKILL");
          return "started";
        },
        (error: unknown) => (error as Error).message,
      );
    expect(refused).toMatch(/engine "host-b" with Docker engine ID \S+, but this worker's engine has ID \S+/);
    expect(refused).toMatch(/set RUNNERHUB_ENGINE_NAME to a name of its own/);
  }, 60_000);
});
