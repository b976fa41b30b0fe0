import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CRASH_LOOP_FIRST_BACKOFF_MS, CRASH_LOOP_THRESHOLD } from "../../src/tunables.js";
import { waitFor } from "../sim/github-simulator.js";
import { startStack, stubPool, type Stack } from "./support/stack.js";

const TOKEN = "e2e-admin-token-0123456789abcdef";
/** Reconcile passes this often: each pass gives a job left without a runner a new one. */
const RECONCILE_MS = 2_000;
/** The window measured: the first backoff and the crash that ends it fit in it, the second backoff does not end. */
const WINDOW_MS = 60_000;
const EXIT_CODE = 3;

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
  crashLoop: { crashes: number; backoffs: number; lastExitCode: number | null; lastLines: string } | null;
}

async function linuxPool(): Promise<PoolBody | undefined> {
  const body = (await (await admin("/admin/pools")).json()) as { pools: PoolBody[] };
  return body.pools.find((pool) => pool.name === "linux");
}

/** Registrations (JIT configs) the app asked GitHub for since `since`. */
function registrationsSince(since: number): number {
  return stack.sim.requests.filter(
    (request) => request.method === "POST" && request.path.endsWith("/generate-jitconfig") && request.at >= since,
  ).length;
}

describe("a pool whose runners crash before taking a job", () => {
  it("backs off instead of spending a registration every pass, and says so", async () => {
    stack.sim.crashRunnersAtStart(EXIT_CODE);
    const since = Date.now();
    const job = await stack.sim.queueJob({ owner: "acme", repo: "app", labels: ["self-hosted", "linux"] });
    await waitFor(() => Date.now() - since >= WINDOW_MS, {
      timeoutMs: WINDOW_MS + 10_000,
      intervalMs: 500,
      what: "the measured window to pass",
    });
    const registrations = registrationsSince(since);
    // Without a backoff: about one per pass (30 in the window). With it: the crashes up to the
    // threshold, one after the first backoff, maybe one more made before the backoff began.
    expect(registrations, `registrations in ${WINDOW_MS / 1000} s`).toBeGreaterThanOrEqual(CRASH_LOOP_THRESHOLD + 1);
    expect(registrations, `registrations in ${WINDOW_MS / 1000} s`).toBeLessThanOrEqual(CRASH_LOOP_THRESHOLD + 3);
    expect(WINDOW_MS).toBeLessThan(3 * CRASH_LOOP_FIRST_BACKOFF_MS);
    expect(stack.sim.getJob(job.id)?.status).toBe("queued");

    const pool = await linuxPool();
    expect(pool).toMatchObject({ health: "crash-looping", crashLoop: { lastExitCode: EXIT_CODE } });
    expect(pool?.crashLoop?.crashes).toBeGreaterThanOrEqual(CRASH_LOOP_THRESHOLD);
    expect(pool?.crashLoop?.lastLines).toContain(`exiting with code ${EXIT_CODE}`);
    const metrics = await (await fetch(`${stack.app.url}/metrics`)).text();
    expect(metrics).toContain('runnerhub_pool_crash_looping{pool="linux"} 1');
    expect(metrics).toMatch(/runnerhub_crash_loop_backoffs_total\{pool="linux"\} [1-9]/);

    // Fixed behind runnerhub's back, then reset by the operator: the job gets a runner at once.
    stack.sim.crashRunnersAtStart(undefined);
    const reset = await admin("/admin/pools/linux/crash-loop", { method: "DELETE" });
    expect(reset.status).toBe(200);
    expect(await reset.json()).toMatchObject({ name: "linux", health: "ok", crashLoop: null });
    await waitFor(() => stack.sim.getJob(job.id)?.conclusion === "success", {
      timeoutMs: 20_000,
      what: "the waiting job to be served once the crash loop is reset",
    });
    expect(await linuxPool()).toMatchObject({ health: "ok", crashLoop: null });
  });
});
