import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENGINE_FULL_RETRY_MS } from "../../src/tunables.js";
import { waitFor, type SimJob } from "../sim/github-simulator.js";
import { startStack, stubPool, type Stack } from "./support/stack.js";

const POOL = "linux";
/** Short, so the measured window passes the age at which demand is re-checked with GitHub. */
const RECHECK_AFTER_MS = 3_000;
let stack: Stack;

beforeAll(async () => {
  // One runner at a time on this engine: everything after the first job waits on a full engine.
  stack = await startStack({
    pools: [stubPool({ name: POOL })],
    env: { RUNNERHUB_ENGINE_CAPACITY: "1", RUNNERHUB_RECHECK_AFTER: `${RECHECK_AFTER_MS}ms` },
  });
});

afterAll(async () => {
  await stack?.stop();
});

/** "Is this job still queued?" requests the simulator received for these jobs. */
function statusChecks(jobs: SimJob[]): number {
  const paths = new Set(jobs.map((job) => `/api/v3/repos/acme/app/actions/jobs/${job.id}`));
  return stack.sim.requests.filter((r) => r.method === "GET" && paths.has(r.path)).length;
}

const queue = (behavior: SimJob["behavior"]) =>
  stack.sim.queueJob({ owner: "acme", repo: "app", labels: ["self-hosted", "linux"], behavior });

describe("demand waiting for capacity", () => {
  it("asks GitHub nothing while parked and at most once per job when served", async () => {
    const blocker = await queue({ kind: "hang" });
    await waitFor(() => stack.sim.getJob(blocker.id)?.status === "in_progress", {
      timeoutMs: 20_000,
      what: "the first job to hold the engine's one slot",
    });
    const parked = [
      await queue({ kind: "run", seconds: 1 }),
      await queue({ kind: "run", seconds: 1 }),
      await queue({ kind: "run", seconds: 1 }),
    ];
    // The window measured: past the age at which demand is re-checked with GitHub, and long enough
    // for several engine-full retries of each job (the old code asked GitHub on every one).
    const since = Date.now();
    await waitFor(() => Date.now() - since > RECHECK_AFTER_MS + 4 * ENGINE_FULL_RETRY_MS, {
      timeoutMs: RECHECK_AFTER_MS + 6 * ENGINE_FULL_RETRY_MS,
      intervalMs: 500,
      what: "the measured window to pass",
    });
    const whileParked = statusChecks(parked);
    expect(parked.every((job) => stack.sim.getJob(job.id)?.status === "queued")).toBe(true);

    await stack.sim.cancelJob(blocker.id);
    await waitFor(() => parked.every((job) => stack.sim.getJob(job.id)?.conclusion === "success"), {
      timeoutMs: 40_000,
      what: "the parked jobs to be served once the slot frees",
    });
    expect(whileParked).toBe(0);
    expect(statusChecks(parked)).toBeLessThanOrEqual(parked.length);
  });
});
