import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../sim/github-simulator.js";
import { watchRunning } from "./support/running-count.js";
import { startStack, stubPool, type Stack } from "./support/stack.js";

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ pools: [stubPool({ name: "small", maxRunners: 5 })] });
  // A second worker process on the same Redis and engine competes for the same five slots.
  await stack.addProcess({ RUNNERHUB_ROLES: "worker" });
});

afterAll(async () => {
  await stack?.stop();
});

describe("hard maxRunners ceiling across two worker processes", () => {
  it("never runs more than 5 containers for 50 jobs queued at once, and every job gets a runner", async () => {
    const watch = await watchRunning(stack.docker, "small");
    try {
      const jobs = await Promise.all(
        Array.from({ length: 50 }, () =>
          // Long enough that, without the ceiling, registrations would outpace exits many times over.
          stack.sim.queueJob({
            owner: "acme",
            repo: "app",
            labels: ["self-hosted", "linux"],
            behavior: { kind: "run", seconds: 3 },
          }),
        ),
      );
      await waitFor(() => jobs.every((job) => stack.sim.getJob(job.id)?.conclusion === "success"), {
        timeoutMs: 200_000,
        intervalMs: 250,
        what: "all 50 jobs to complete",
      }).catch((error: unknown) => {
        const statuses = jobs.map((job) => stack.sim.getJob(job.id)?.status ?? "unknown");
        const tally = [...new Set(statuses)].map(
          (status) => `${status}=${statuses.filter((s) => s === status).length}`,
        );
        throw new Error(
          `${(error as Error).message}; jobs: ${tally.join(" ")}; app log tail:\n${stack.app.logs().slice(-40).join("\n")}`,
        );
      });
      await waitFor(() => watch.state.running === 0, { timeoutMs: 30_000, what: "the last runner to exit" });
      expect(watch.state.max).toBeLessThanOrEqual(5);
      expect(watch.state.max).toBeGreaterThan(1);
      expect(watch.state.starts).toBeGreaterThanOrEqual(50);
      // Both processes provisioned: the ceiling held across them, not inside one.
      const provisioners = stack.app.logs().filter((line) => line.includes('"runner started"')).length;
      expect(provisioners).toBeGreaterThan(0);
      expect(provisioners).toBeLessThan(watch.state.starts);
    } finally {
      watch.stop();
    }
  }, 240_000);
});
