import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../sim/github-simulator.js";
import { buildStubImage } from "../sim/stub-image.js";
import type { AppProcess } from "../support/app-process.js";
import { DockerEngine } from "../support/docker-engine.js";
import { EngineForwarder } from "../support/engine-forwarder.js";
import { watchRunning } from "./support/running-count.js";
import { queueLinuxJobs, startStack, stubPool, type Stack } from "./support/stack.js";

/**
 * Fault: a remote engine loses power while its worker lives on elsewhere. Worker A drives a
 * private dockerd through a loopback TCP forwarder (DOCKER_HOST=tcp://…) and holds both runners of
 * a pool with maxRunners 2. The forwarder then stops answering (connections stay open, nothing
 * comes back) and A's runner containers go with the host. Worker A keeps beating in Redis; worker
 * B, on a healthy engine, must still serve the pool's next jobs within the heartbeat timeout plus
 * a pass, because A's heartbeat says its engine stopped answering.
 */
const TIMEOUT_MS = 5_000;
const RECONCILE_MS = 2_000;
const FAST = {
  RUNNERHUB_HEARTBEAT_INTERVAL: "1s",
  RUNNERHUB_HEARTBEAT_TIMEOUT: `${TIMEOUT_MS}ms`,
  RUNNERHUB_RECONCILE_INTERVAL: `${RECONCILE_MS}ms`,
  RUNNERHUB_DOCKER_TIMEOUT: "1s",
};
let stack: Stack;
let hostA: DockerEngine;
let forwarder: EngineForwarder;

beforeAll(async () => {
  stack = await startStack({
    pools: [stubPool({ maxRunners: 2, minIdle: 2, warmScope: "acme" })],
    env: { ...FAST, RUNNERHUB_ROLES: "webhook" },
  });
  hostA = await DockerEngine.start();
  await buildStubImage(hostA.client());
  forwarder = await EngineForwarder.start(hostA.socketPath);
});

afterAll(async () => {
  await stack?.stop();
  await forwarder?.stop();
  await hostA?.destroy();
});

async function readyz(app: AppProcess): Promise<{ status: number; body: { checks: Record<string, string> } }> {
  const res = await fetch(`${app.url}/readyz`);
  return { status: res.status, body: (await res.json()) as { checks: Record<string, string> } };
}

describe("a remote engine that stops answering while its worker lives", () => {
  it("is given up by the other workers, which serve the waiting jobs; its worker stops provisioning", async () => {
    const watch = await watchRunning([hostA.client(), stack.docker], "linux");
    const running = watch.state;
    const workerA = await stack.addProcess({
      RUNNERHUB_ROLES: "worker",
      DOCKER_HOST: forwarder.dockerHost,
      RUNNERHUB_ENGINE_NAME: "host-a",
    });
    const onA = await waitFor(
      async () => {
        const names = (await hostA.client().listContainers()).map((c) => c.Names[0]?.slice(1) ?? "");
        const online = names.filter((name) => stack.sim.runners().some((r) => r.name === name && r.online));
        return online.length === 2 && online;
      },
      { timeoutMs: 30_000, what: "two idle runners on host-a" },
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}; worker A log:\n${workerA.logs().slice(-30).join("\n")}`);
    });
    const workerB = await stack.addProcess({ RUNNERHUB_ROLES: "worker", RUNNERHUB_ENGINE_NAME: "host-b" });

    forwarder.cutPower();
    for (const container of await hostA.client().listContainers({ all: true })) {
      await hostA.client().getContainer(container.Id).remove({ force: true });
    }
    const cutAt = Date.now();
    const jobs = await queueLinuxJobs(stack.sim, 2, { kind: "run", seconds: 1 });
    await waitFor(() => jobs.every((job) => stack.sim.getJob(job.id)?.conclusion === "success"), {
      timeoutMs: TIMEOUT_MS + RECONCILE_MS + 25_000,
      what: "both new jobs served by worker B",
    }).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}; worker B log:\n${workerB.logs().slice(-30).join("\n")}`);
    });
    const servedInMs = Date.now() - cutAt;
    console.log(`engine-silent: both jobs served ${servedInMs} ms after the engine stopped answering`);
    for (const job of jobs) expect(onA).not.toContain(stack.sim.getJob(job.id)?.runnerName);
    expect(workerB.logs().some((line) => line.includes("its runners given up"))).toBe(true);
    expect(stack.sim.runners().filter((runner) => onA.includes(runner.name))).toEqual([]);

    // Worker A lived through it, said it stopped provisioning, and is not ready.
    expect(workerA.logs().some((line) => line.includes("engine does not answer"))).toBe(true);
    expect((await readyz(workerA)).status).toBe(503);

    // The host comes back: A answers again and takes work again, never past the pool's limit.
    forwarder.restorePower();
    await waitFor(async () => (await readyz(workerA)).status === 200, {
      timeoutMs: 20_000,
      what: "worker A ready again",
    });
    await workerA.waitForLog(/engine answers again/, 5_000);
    watch.stop();
    expect(running.max).toBeLessThanOrEqual(2);
  }, 120_000);
});
