import { setTimeout } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LABELS } from "../../src/docker/labels.js";
import { waitFor } from "../sim/github-simulator.js";
import { startStack, stubPool, type Stack } from "./support/stack.js";

/**
 * Warm pools over the built app: a schedule entry matching the current minute keeps its idle
 * runners without any job, one that does not match keeps its pool cold, and an adaptive pool keeps
 * idle runners while jobs arrive at a steady rate, then shrinks to none within its idleTimeout
 * once they stop. Runners are seen idle by a reconcile pass only once older than
 * RECONCILE_FRESH_RUNNER_MS (a minute), so the adaptive pool's idleTimeout is a minute too.
 */
const TOKEN = "e2e-admin-token-0123456789";
const RECONCILE_MS = 1_000;
const IDLE_TIMEOUT_MS = 60_000;
const FORECAST_WINDOW_MS = 10_000;
const BOOT_SECONDS = 4;
/** One job every two seconds over a 4 s boot: 2 expected per boot, 5 warm runners with the margin. */
const ARRIVAL_EVERY_MS = 2_000;
/** Jobs measured once the pool is warm. */
const STEADY_JOBS = 9;
/** The UTC hour twelve hours from now: a schedule for it cannot match while the test runs. */
const otherHour = (new Date().getUTCHours() + 12) % 24;

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    pools: [
      stubPool({
        name: "office",
        labels: ["self-hosted", "office"],
        warmScope: "acme",
        schedule: [{ cron: "* * * * *", timezone: "Europe/Berlin", minIdle: 2 }],
      }),
      stubPool({
        name: "night",
        labels: ["self-hosted", "night"],
        warmScope: "acme",
        schedule: [{ cron: `* ${otherHour} * * *`, timezone: "UTC", minIdle: 2 }],
      }),
      stubPool({
        name: "adaptive",
        labels: ["self-hosted", "adaptive"],
        warmScope: "acme",
        warm: "adaptive",
        maxIdle: 6,
        forecastWindow: `${FORECAST_WINDOW_MS / 1000}s`,
        idleTimeout: `${IDLE_TIMEOUT_MS / 1000}s`,
        // A real runner's boot: the stub's tens of milliseconds need no warm runner at these rates.
        env: { STUB_BOOT_SECONDS: String(BOOT_SECONDS) },
      }),
    ],
    env: { ADMIN_TOKEN: TOKEN, RUNNERHUB_RECONCILE_INTERVAL: `${RECONCILE_MS}ms` },
  });
});

afterAll(async () => {
  await stack?.stop();
});

interface PoolBody {
  name: string;
  counts: { starting: number; idle: number; busy: number; waiting: number };
  warmTarget: number;
  warmReason: {
    kind: string;
    floor: number;
    schedule: { cron: string } | null;
    forecast: { perMinute: number } | null;
  };
}

async function pool(name: string): Promise<PoolBody> {
  const answer = await fetch(`${stack.app.url}/admin/pools`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const found = ((await answer.json()) as { pools: PoolBody[] }).pools.find((view) => view.name === name);
  if (!found) throw new Error(`no pool ${name} in GET /admin/pools`);
  return found;
}

async function runningContainers(poolName: string): Promise<number> {
  const containers = await stack.containers({ [LABELS.pool]: poolName });
  return containers.filter((container) => container.State === "running").length;
}

/** Runners of the pool GitHub lists as online and not busy. */
function idleAtGitHub(poolName: string): number {
  return stack.sim.runners().filter((runner) => runner.name.startsWith(`${poolName}-`) && runner.online && !runner.busy)
    .length;
}

describe("scheduled floors", () => {
  it("keep a matching entry's idle runners without any job, and a pool whose entry does not match cold", async () => {
    await waitFor(async () => (await runningContainers("office")) === 2 && idleAtGitHub("office") === 2, {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: "two idle runners of the office pool",
    });
    expect(await pool("office")).toMatchObject({
      warmTarget: 2,
      warmReason: { kind: "schedule", floor: 2, schedule: { cron: "* * * * *" } },
    });
    // The passes that warmed the office pool also judged the night pool: it stays cold.
    expect(await runningContainers("night")).toBe(0);
    expect(await pool("night")).toMatchObject({
      warmTarget: 0,
      warmReason: { kind: "floor", floor: 0, schedule: null },
    });
    expect(stack.sim.runners().filter((runner) => runner.name.startsWith("night-"))).toEqual([]);
    const metrics = await (await fetch(`${stack.app.url}/metrics`)).text();
    expect(metrics).toContain('runnerhub_pool_warm_target{pool="office"} 2');
    expect(metrics).toContain('runnerhub_pool_warm_target{pool="night"} 0');
  });
});

describe("an adaptive pool", () => {
  it("keeps idle runners under a steady arrival rate and shrinks to none within idleTimeout after it stops", async () => {
    expect(await pool("adaptive")).toMatchObject({ warmTarget: 0, warmReason: { kind: "floor", floor: 0 } });
    expect(await runningContainers("adaptive")).toBe(0);

    // A job every two seconds, each running a second, until the pool keeps idle runners of its own.
    let warm: PoolBody | undefined;
    let jobs = 0;
    const since = Date.now();
    while (!warm) {
      await stack.sim.queueJob({
        owner: "acme",
        repo: "app",
        labels: ["self-hosted", "adaptive"],
        behavior: { kind: "run", seconds: 1 },
      });
      jobs++;
      await setTimeout(ARRIVAL_EVERY_MS);
      // Two seconds after a job: it was taken, and the pool keeps a runner online and idle for the next.
      const view = await pool("adaptive");
      if (view.warmReason.kind === "forecast" && view.warmTarget >= 1 && idleAtGitHub("adaptive") >= 1) warm = view;
      else if (Date.now() - since > 45_000)
        throw new Error(`no warm runners after ${jobs} jobs: ${JSON.stringify(view)}`);
    }
    expect(warm.warmReason.forecast?.perMinute).toBeGreaterThan(0);

    // Warm now: jobs arriving at the same rate are picked up by runners already online, not after a boot.
    const steady: number[] = [];
    for (let i = 0; i < STEADY_JOBS; i++) {
      const job = await stack.sim.queueJob({
        owner: "acme",
        repo: "app",
        labels: ["self-hosted", "adaptive"],
        behavior: { kind: "run", seconds: 1 },
      });
      steady.push(job.id);
      await setTimeout(ARRIVAL_EVERY_MS);
    }
    const pickups = await waitFor(
      () => {
        const sent = (action: string, id: number) =>
          stack.sim
            .deliveries()
            .find(
              (d) =>
                d.action === action && (JSON.parse(d.body) as { workflow_job: { id: number } }).workflow_job.id === id,
            )?.sentAt;
        const times = steady.map((id) => (sent("in_progress", id) ?? NaN) - (sent("queued", id) ?? NaN));
        return times.every(Number.isFinite) && times.sort((a, b) => a - b);
      },
      { timeoutMs: 30_000, intervalMs: 200, what: "the steady jobs to be picked up" },
    );
    const p50 = pickups[Math.floor(pickups.length / 2)] ?? NaN;
    console.log(`adaptive pool: steady pickups ${pickups.map((ms) => Math.round(ms)).join(", ")} ms`);
    // A cold pickup waits for a boot (4 s); a warm one for a poll.
    expect(p50).toBeLessThanOrEqual(1_500);
    const stopped = Date.now();

    await waitFor(
      async () => {
        const view = await pool("adaptive");
        return view.warmTarget === 0 && view.counts.busy === 0 && (await runningContainers("adaptive")) === 0 && view;
      },
      { timeoutMs: IDLE_TIMEOUT_MS + 15_000, intervalMs: 500, what: "the adaptive pool cold again" },
    );
    const coldAfterMs = Date.now() - stopped;
    console.log(`adaptive pool: warm after ${jobs} jobs, cold ${coldAfterMs} ms after the last job`);
    expect(coldAfterMs).toBeLessThanOrEqual(IDLE_TIMEOUT_MS + 15_000);
  }, 180_000);
});
