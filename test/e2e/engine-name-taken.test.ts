import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../sim/github-simulator.js";
import { buildStubImage } from "../sim/stub-image.js";
import { DockerEngine } from "../support/docker-engine.js";
import { watchRunning } from "./support/running-count.js";
import { queueLinuxJobs, startStack, stubPool, type Stack } from "./support/stack.js";

/**
 * Fault: a paused worker comes back under a taken name. Worker A (engine "host-x" on a private
 * dockerd) runs three busy runners of a pool with maxRunners 3 and is paused (SIGSTOP) past the
 * heartbeat timeout, as a VM pause or a long GC would; worker B starts under the same engine name
 * on another dockerd, and two more jobs queue. A's busy runners keep their slots (B never counts
 * them as its own, and never frees a busy runner's slot), so no more than three runners ever run
 * across both engines; when A resumes it finds its name taken, stops, and exits non-zero.
 */
const TIMEOUT_MS = 4_000;
const FAST = {
  RUNNERHUB_HEARTBEAT_INTERVAL: "1s",
  RUNNERHUB_HEARTBEAT_TIMEOUT: `${TIMEOUT_MS}ms`,
  RUNNERHUB_RECONCILE_INTERVAL: "2s",
};
let stack: Stack;
let hostA: DockerEngine;

beforeAll(async () => {
  stack = await startStack({ pools: [stubPool({ maxRunners: 3 })], env: { ...FAST, RUNNERHUB_ROLES: "webhook" } });
  hostA = await DockerEngine.start();
  await buildStubImage(hostA.client());
});

afterAll(async () => {
  await stack?.stop();
  await hostA?.destroy();
});

/** How long ago (Redis' clock) the engine's heartbeat was written. */
async function heartbeatAgeMs(engine: string): Promise<number> {
  const [[, time], [, text]] = (await stack.redis.multi().time().hget(stack.keys.heartbeats, engine).exec()) as [
    [null, [string, string]],
    [null, string | null],
  ];
  const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
  return text ? now - (JSON.parse(text) as { at: number }).at : Number.POSITIVE_INFINITY;
}

describe("a paused worker that comes back under a taken name", () => {
  it("never lets the pool run more than maxRunners, stops no busy runner, and stops itself", async () => {
    const watch = await watchRunning([hostA.client(), stack.docker], "linux");
    const running = watch.state;
    const workerA = await stack.addProcess({
      RUNNERHUB_ROLES: "worker",
      DOCKER_HOST: hostA.dockerHost,
      RUNNERHUB_ENGINE_NAME: "host-x",
    });
    const first = await queueLinuxJobs(stack.sim, 3, { kind: "hang" });
    await waitFor(() => first.every((job) => stack.sim.getJob(job.id)?.status === "in_progress"), {
      timeoutMs: 30_000,
      what: "three busy runners on worker A",
    });

    process.kill(workerA.pid, "SIGSTOP");
    await waitFor(async () => (await heartbeatAgeMs("host-x")) > TIMEOUT_MS, {
      timeoutMs: TIMEOUT_MS + 10_000,
      what: "worker A's heartbeat silent past the timeout",
    });
    const workerB = await stack.addProcess({ RUNNERHUB_ROLES: "worker", RUNNERHUB_ENGINE_NAME: "host-x" });
    const next = await queueLinuxJobs(stack.sim, 2, { kind: "run", seconds: 1 });
    // Two of B's engine-loss passes that found A's runners busy, each followed by a provisioning
    // attempt for the new jobs: where the old code freed A's slots and started two more runners.
    await waitFor(
      () => workerB.logs().filter((line) => line.includes("runners of an engine replaced under this name")).length >= 2,
      { timeoutMs: 20_000, what: "worker B judging A's runners twice" },
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}; worker B log:\n${workerB.logs().slice(-30).join("\n")}`);
    });
    expect(running.max).toBeLessThanOrEqual(3);
    expect(next.map((job) => stack.sim.getJob(job.id)?.status)).toEqual(["queued", "queued"]);

    process.kill(workerA.pid, "SIGCONT");
    const exitCode = await workerA.waitForExit(20_000);
    expect(exitCode).not.toBe(0);
    expect(workerA.logs().some((line) => line.includes("another engine beats under this name"))).toBe(true);
    // A's busy runners run on: nothing stopped them.
    const busy = await hostA.client().listContainers({ filters: { status: ["running"] } });
    expect(busy).toHaveLength(3);
    expect(running.max).toBeLessThanOrEqual(3);
    watch.stop();
  }, 120_000);
});
