import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../sim/github-simulator.js";
import { watchRunning } from "./support/running-count.js";
import { startStack, stubPool, type Stack } from "./support/stack.js";

const TOKEN = "e2e-admin-token-0123456789abcdef";
/** Long enough that no job of the first wave ends before the last one has started. */
const JOB_SECONDS = 8;

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    pools: [
      // Jobs asking for self-hosted + linux match small best (no extra label); big carries them too.
      stubPool({ name: "small", labels: ["self-hosted", "linux"], maxRunners: 1, overflow: "big" }),
      stubPool({ name: "big", labels: ["self-hosted", "linux", "big"], maxRunners: 2 }),
    ],
    env: { ADMIN_TOKEN: TOKEN },
  });
});

afterAll(async () => {
  await stack?.stop();
});

const admin = async <T>(path: string): Promise<T> =>
  (await (await fetch(`${stack.app.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as T;

describe("overflow: a full pool's jobs start in the pool it overflows to", () => {
  it("starts the jobs small has no room for in big, once each, within each ceiling, and shows the move", async () => {
    const small = await watchRunning(stack.docker, "small");
    const big = await watchRunning(stack.docker, "big");
    try {
      const queue = () =>
        stack.sim.queueJob({
          owner: "acme",
          repo: "app",
          labels: ["self-hosted", "linux"],
          behavior: { kind: "run", seconds: JOB_SECONDS },
        });
      const first = await Promise.all([queue(), queue(), queue()]);
      const firstStarted = Date.now();
      // Without overflow only one job runs at a time (small's one slot); with it all three do.
      await waitFor(() => first.every((job) => stack.sim.getJob(job.id)?.status !== "queued"), {
        timeoutMs: (JOB_SECONDS - 2) * 1000,
        intervalMs: 100,
        what: "all three jobs to be taken before the first ends",
      }).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}; app log tail:\n${stack.app.logs().slice(-30).join("\n")}`);
      });
      expect(Date.now() - firstStarted).toBeLessThan(JOB_SECONDS * 1000);
      // Both pools are full now: the fourth job waits (in small; big is full too) and is served later.
      const fourth = await queue();
      await waitFor(() => [...first, fourth].every((job) => stack.sim.getJob(job.id)?.conclusion === "success"), {
        timeoutMs: 60_000,
        intervalMs: 250,
        what: "all four jobs to complete",
      });
      await waitFor(() => small.state.running + big.state.running === 0, {
        timeoutMs: 30_000,
        what: "the last runners to exit",
      });
      expect(small.state.max).toBe(1);
      expect(big.state.max).toBe(2);
      // The fourth job starts in whichever pool frees a slot first: a release in big wakes it too.
      const viaBig = big.state.starts;
      expect([2, 3]).toContain(viaBig);
      // One runner per job: the moved demand kept its job id, and nothing was provisioned twice.
      expect(small.state.starts + big.state.starts).toBe(4);
      const registrations = stack.sim.requests.filter(
        (request) => request.method === "POST" && request.path.endsWith("/generate-jitconfig"),
      );
      expect(registrations).toHaveLength(4);

      const overview = await admin<{ events: { kind: string; pool: string; jobId?: number; reason?: string }[] }>(
        "/admin/overview",
      );
      const moves = overview.events.filter((event) => event.kind === "overflowed");
      expect(moves).toHaveLength(viaBig);
      expect(moves.every((event) => event.pool === "big" && event.reason === "from small (pool-full)")).toBe(true);
      expect(new Set(moves.map((event) => event.jobId)).size).toBe(viaBig);
      const pools = await admin<{ pools: { name: string; overflow?: string }[] }>("/admin/pools");
      expect(pools.pools.find((pool) => pool.name === "small")?.overflow).toBe("big");
      const metrics = await (await fetch(`${stack.app.url}/metrics`)).text();
      expect(metrics).toContain(`runnerhub_overflows_total{from="small",to="big"} ${viaBig}`);
      expect(stack.app.logs().some((line) => line.includes("it overflows to the other pool"))).toBe(true);
    } finally {
      small.stop();
      big.stop();
    }
  }, 150_000);
});
