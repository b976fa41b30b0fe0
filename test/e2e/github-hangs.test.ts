import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../sim/github-simulator.js";
import { watchRunning } from "./support/running-count.js";
import { queueLinuxJobs, startStack, stubPool, type Stack } from "./support/stack.js";

const POOL = "linux";
/** RUNNERHUB_GITHUB_TIMEOUT for this test: short, so a hung request costs seconds, not minutes. */
const GITHUB_TIMEOUT_MS = 2_000;
/**
 * Both jobs must have a runner within this: the deadline, a provision retry's backoff and a
 * container start, with room for a loaded machine. Without a deadline, undici waits 300 s for
 * the hung answers' headers.
 */
const SERVE_BOUND_MS = 30_000;
const JIT_PATH = /\/actions\/runners\/generate-jitconfig$/;

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    pools: [stubPool({ name: POOL, maxRunners: 2 })],
    env: { RUNNERHUB_GITHUB_TIMEOUT: `${GITHUB_TIMEOUT_MS}ms` },
  });
});

afterAll(async () => {
  await stack?.stop();
});

/** Sum of runnerhub_github_requests_total over the lines whose labels contain every fragment. */
async function githubRequests(...fragments: string[]): Promise<number> {
  const text = await (await fetch(`${stack.app.url}/metrics`)).text();
  return text
    .split("\n")
    .filter((line) => line.startsWith("runnerhub_github_requests_total{"))
    .filter((line) => fragments.every((fragment) => line.includes(fragment)))
    .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
}

describe("GitHub stops answering (requests held open, no error, no close)", () => {
  it("aborts two hung JIT config requests at the deadline and serves both jobs anyway", async () => {
    stack.sim.hangRequests({ method: "POST", path: JIT_PATH, times: 2 });
    const watch = await watchRunning(stack.docker, POOL);
    try {
      const queuedAt = Date.now();
      const jobs = await queueLinuxJobs(stack.sim, 2, { kind: "run", seconds: 1 });
      await waitFor(() => stack.sim.heldRequests().total === 2, {
        timeoutMs: SERVE_BOUND_MS,
        what: "both jobs' first JIT config requests to be held",
      });
      await waitFor(() => jobs.every((job) => stack.sim.getJob(job.id)?.status !== "queued"), {
        timeoutMs: SERVE_BOUND_MS - (Date.now() - queuedAt),
        what: `both jobs to be taken by a runner within ${SERVE_BOUND_MS} ms of being queued`,
      });
      await waitFor(() => jobs.every((job) => stack.sim.getJob(job.id)?.conclusion === "success"), {
        timeoutMs: 30_000,
        what: "both jobs to complete",
      });
      // The aborted requests' connections were closed by runnerhub, not left open.
      await waitFor(() => stack.sim.heldRequests().open === 0, {
        timeoutMs: 10_000,
        what: "the held requests to be closed by the client",
      });
      expect(await githubRequests('route="POST ', 'generate-jitconfig"', 'status="timeout"')).toBe(2);
      expect(await githubRequests('route="POST ', 'generate-jitconfig"', 'status="201"')).toBe(2);
      // One runner per job: a held request registered nothing, and nothing was started twice.
      expect(stack.sim.registrationHistory()).toHaveLength(2);
      expect(watch.state.starts).toBe(2);
      await waitFor(
        async () =>
          (await stack.containers()).length === 0 &&
          (await stack.redis.scard(stack.keys.runners)) === 0 &&
          (await stack.redis.zcard(stack.keys.slots("pool", POOL))) === 0,
        { timeoutMs: 20_000, what: "no container, record or slot left" },
      );
    } finally {
      watch.stop();
    }
  });
});
