import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../sim/github-simulator.js";
import { startStack, stubPool, type Stack } from "./support/stack.js";

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    pools: [
      stubPool({ name: "small", labels: ["self-hosted", "linux"], maxRunners: 1, overflow: "big" }),
      stubPool({ name: "big", labels: ["self-hosted", "linux", "big"], maxRunners: 2 }),
    ],
  });
});

afterAll(async () => {
  await stack?.stop();
});

describe("overflow wake: a slot freed in the overflow pool starts the demand parked in the full pool", () => {
  it("starts a job parked in its full pool in the overflow pool as soon as that pool frees a slot", async () => {
    const job = (seconds: number) =>
      stack.sim.queueJob({
        owner: "acme",
        repo: "app",
        labels: ["self-hosted", "linux"],
        behavior: { kind: "run", seconds },
      });
    const taken = (id: number) => stack.sim.getJob(id)?.status !== "queued";
    // small is held far longer than the test; big's two jobs end soon and free its slots.
    const long = await job(90);
    await waitFor(() => taken(long.id), { timeoutMs: 30_000, what: "the long job to start in small" });
    const short = await Promise.all([job(3), job(3)]);
    await waitFor(() => short.every((queued) => taken(queued.id)), {
      timeoutMs: 30_000,
      what: "the short jobs to overflow into big",
    });
    // Both pools full: this one parks in small, whose own slot frees only in 90 s.
    const parked = await job(3);
    const parkedAt = Date.now();
    await waitFor(() => short.some((queued) => stack.sim.getJob(queued.id)?.conclusion === "success"), {
      timeoutMs: 20_000,
      what: "a short job to end and free a slot of big",
    });
    // Well inside the 30 s safety net (PARK_FALLBACK_MS) counted from the parking: only the wake
    // by big's release can start it this soon.
    await waitFor(() => taken(parked.id), {
      timeoutMs: Math.max(1_000, 22_000 - (Date.now() - parkedAt)),
      intervalMs: 100,
      what: "the parked job to start in big once big freed a slot",
    }).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}; app log tail:\n${stack.app.logs().slice(-30).join("\n")}`);
    });
    const runners = [long, ...short, parked].map((queued) => stack.sim.getJob(queued.id)?.runnerName);
    expect(runners, JSON.stringify(runners)).toEqual([
      expect.stringMatching(/^small-/),
      expect.stringMatching(/^big-/),
      expect.stringMatching(/^big-/),
      expect.stringMatching(/^big-/),
    ]);
    expect(stack.sim.getJob(long.id)?.conclusion).toBeNull();
  }, 120_000);
});
