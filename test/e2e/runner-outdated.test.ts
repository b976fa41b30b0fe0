import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CRASH_LOOP_FIRST_BACKOFF_MS } from "../../src/tunables.js";
import { waitFor } from "../sim/github-simulator.js";
import { startStack, stubPool, type Stack } from "./support/stack.js";

const TOKEN = "e2e-admin-token-0123456789abcdef";
/** Reconcile passes this often: without a backoff each pass gives the waiting job a new runner. */
const RECONCILE_MS = 2_000;
/** Well inside the first backoff: no second runner may be made in it. */
const WINDOW_MS = 20_000;
const VERSION = "2.328.0";

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    pools: [stubPool({ name: "linux" })],
    env: { ADMIN_TOKEN: TOKEN, RUNNERHUB_RECONCILE_INTERVAL: `${RECONCILE_MS}ms` },
  });
});

afterAll(async () => {
  await stack?.stop();
});

const admin = (path: string, init: RequestInit = {}) =>
  fetch(`${stack.app.url}${path}`, { ...init, headers: { authorization: `Bearer ${TOKEN}` } });

interface PoolBody {
  name: string;
  health: string;
  crashLoop: {
    crashes: number;
    lastReason: string;
    lastExitCode: number | null;
    lastLines: string;
    fix?: string;
  } | null;
}

async function linuxPool(): Promise<PoolBody | undefined> {
  const body = (await (await admin("/admin/pools")).json()) as { pools: PoolBody[] };
  return body.pools.find((pool) => pool.name === "linux");
}

function registrationsSince(since: number): number {
  return stack.sim.requests.filter(
    (request) => request.method === "POST" && request.path.endsWith("/generate-jitconfig") && request.at >= since,
  ).length;
}

describe("a runner GitHub refuses for its version", () => {
  it("is classified runner-outdated, counted, shown on its pool with the fix, and backs the pool off at once", async () => {
    expect(WINDOW_MS).toBeLessThan(CRASH_LOOP_FIRST_BACKOFF_MS);
    stack.sim.refuseRunnerVersion(VERSION);
    const since = Date.now();
    const job = await stack.sim.queueJob({ owner: "acme", repo: "app", labels: ["self-hosted", "linux"] });
    await waitFor(async () => (await linuxPool())?.crashLoop?.lastReason === "runner-outdated", {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: "the pool to show the outdated runner",
    });
    const pool = await linuxPool();
    // The real runner exits 0 after the refusal (run-helper.sh): the exit code alone says "completed".
    expect(pool).toMatchObject({
      health: "crash-looping",
      crashLoop: { crashes: 1, lastReason: "runner-outdated", lastExitCode: 0 },
    });
    expect(pool?.crashLoop?.fix).toMatch(/newer image.*pull: always/);
    expect(pool?.crashLoop?.lastLines).toContain(
      `Runner version v${VERSION} is deprecated and cannot receive messages.`,
    );

    // Backed off after the first refusal: no further registration is spent while the job waits.
    await waitFor(() => Date.now() - since >= WINDOW_MS, {
      timeoutMs: WINDOW_MS + 5_000,
      intervalMs: 500,
      what: "the measured window to pass",
    });
    expect(registrationsSince(since), `registrations in ${WINDOW_MS / 1000} s`).toBe(1);
    expect(stack.sim.getJob(job.id)?.status).toBe("queued");
    const metrics = await (await fetch(`${stack.app.url}/metrics`)).text();
    expect(metrics).toContain('runnerhub_runner_exits_total{pool="linux",reason="runner-outdated"} 1');
    expect(metrics).toMatch(/runnerhub_crash_loop_backoffs_total\{pool="linux"\} 1/);

    // A newer image (played by the simulator accepting runners again) and a reset: the job is served.
    stack.sim.refuseRunnerVersion(undefined);
    expect((await admin("/admin/pools/linux/crash-loop", { method: "DELETE" })).status).toBe(200);
    await waitFor(() => stack.sim.getJob(job.id)?.conclusion === "success", {
      timeoutMs: 20_000,
      what: "the waiting job to be served once the pool is fixed",
    });
  }, 90_000);
});
