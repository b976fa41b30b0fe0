import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor, type SimJob } from "../sim/github-simulator.js";
import { startStack, type Stack } from "./support/stack.js";

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ env: { RUNNERHUB_RECOVERY_INTERVAL: "1s" } });
});

afterAll(async () => {
  await stack?.stop();
});

/** GitHub calls the app makes for runners, as opposed to periodic ones (reconcile lists, deliveries). */
function perRunnerCalls() {
  return stack.sim.requests.filter(
    (r) =>
      !/\/actions\/runners$/.test(r.path) && !r.path.includes("/app/hook/deliveries") && !r.path.startsWith("/_sim"),
  );
}

describe("jobs whose queued webhook was lost still get runners", () => {
  it("recovers 20% dropped deliveries through the deliveries API; at most 2 GitHub calls per runner", async () => {
    const jobs: SimJob[] = [];
    for (let i = 0; i < 10; i++) {
      // Every fifth queued webhook never reaches runnerhub, as if it was down.
      jobs.push(
        await stack.sim.queueJob({
          owner: "acme",
          repo: "app",
          labels: ["self-hosted", "linux"],
          behavior: { kind: "run", seconds: 1 },
          deliver: i % 5 !== 4,
        }),
      );
    }
    const lost = stack.sim.deliveries().filter((d) => d.action === "queued" && d.statusCode === 502);
    expect(lost).toHaveLength(2);

    await waitFor(() => jobs.every((job) => stack.sim.getJob(job.id)?.conclusion === "success"), {
      timeoutMs: 60_000,
      what: "every job to complete",
    });
    for (const delivery of lost) {
      const attempts = stack.sim.deliveries().filter((d) => d.guid === delivery.guid);
      expect(attempts.map((d) => `${d.redelivery}:${d.statusCode}`)).toEqual(["false:502", "true:200"]);
    }

    const calls = perRunnerCalls();
    const jit = calls.filter((r) => r.path.endsWith("/generate-jitconfig"));
    expect(jit).toHaveLength(10);
    // JIT config per runner, plus the installation token and the runner-group lookup, both cached.
    expect(calls.length / jit.length).toBeLessThanOrEqual(2);
    await waitFor(async () => (await stack.containers()).length === 0, {
      timeoutMs: 20_000,
      what: "every runner container to be gone",
    });
  });
});
