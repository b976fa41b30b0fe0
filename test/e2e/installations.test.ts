import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installationsResponseSchema } from "../../src/admin/api/installations.js";
import { waitFor, type SimJob } from "../sim/github-simulator.js";
import { startStack, stubPool, type Stack } from "./support/stack.js";

const TOKEN = "e2e-installations-admin-token";
/**
 * GitHub scaled down so a budget is spent within seconds: 40 points at once (8 JIT configs), then
 * 30 a minute (one JIT config every 10 s) per installation; the simulator refuses a token more
 * than 70 points in any minute, which is all runnerhub may spend in one (burst + refill).
 */
const BURST = 40;
const POINTS_PER_MINUTE = 30;
const SIM_LIMIT = BURST + POINTS_PER_MINUTE;
/** A runner for each of a handful of jobs at Docker's speed, not at a refill of one per 10 s. */
const FULL_SPEED_MS = 25_000;

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    pools: [stubPool({ name: "linux", maxRunners: 40 })],
    env: {
      ADMIN_TOKEN: TOKEN,
      RUNNERHUB_GITHUB_BURST: String(BURST),
      RUNNERHUB_GITHUB_POINTS_PER_MINUTE: String(POINTS_PER_MINUTE),
      RUNNERHUB_GITHUB_RESERVE: "0",
    },
  });
  stack.sim.limitPointsPerMinute(SIM_LIMIT);
});

afterAll(async () => {
  await stack?.stop();
});

const queue = (owner: string, installationId: number, count: number) =>
  Promise.all(
    Array.from({ length: count }, () =>
      stack.sim.queueJob({
        owner,
        repo: "app",
        installationId,
        labels: ["self-hosted", "linux"],
        behavior: { kind: "run", seconds: 2 },
      }),
    ),
  );

const started = (jobs: SimJob[]) => jobs.filter((job) => stack.sim.getJob(job.id)?.status !== "queued").length;

async function installations() {
  const answer = await fetch(`${stack.app.url}/admin/installations`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(answer.status).toBe(200);
  return installationsResponseSchema.parse(await answer.json()).installations;
}

describe("two installations on one runnerhub (GitHub's limits are per installation token)", () => {
  it("serves each installation at full speed while the other's budget is spent", async () => {
    // acme (installation 1) queues more jobs than its burst pays for: its budget is spent.
    const acme = await queue("acme", 1, 16);
    await waitFor(() => started(acme) >= 6, { timeoutMs: 60_000, what: "acme's first runners" });
    const spent = (await installations()).find((view) => view.installation === "1");
    expect(spent?.budget.points).toBeLessThan(5);

    // globex (installation 2) comes now: every job gets its runner at once, not one per acme refill.
    const queuedAt = Date.now();
    const globex = await queue("globex", 2, 6);
    await waitFor(() => started(globex) === globex.length, {
      timeoutMs: FULL_SPEED_MS,
      what: "every globex job to start while acme's budget is spent",
    }).catch((error: unknown) => {
      throw new Error(
        `${(error as Error).message}; globex started ${started(globex)}/6, acme ${started(acme)}/16 after ${Date.now() - queuedAt} ms`,
      );
    });
    // acme's jobs still wait on acme's own refill: globex took none of acme's points, nor acme globex's.
    expect(started(acme)).toBeLessThan(acme.length);
    const views = await installations();
    expect(views.map((view) => view.installation)).toEqual(["1", "2", "app"]);
    expect(views.find((view) => view.installation === "1")?.scopes).toEqual(["acme"]);
    expect(views.find((view) => view.installation === "2")?.scopes).toEqual(["globex"]);

    // Then acme is served at its own rate to the end, and GitHub never refused either token.
    await waitFor(() => acme.every((job) => stack.sim.getJob(job.id)?.conclusion === "success"), {
      timeoutMs: 150_000,
      intervalMs: 500,
      what: "every acme job to complete",
    });
    expect(stack.sim.secondaryLimitRefusals()).toEqual({});
    const metrics = await (await fetch(`${stack.app.url}/metrics`)).text();
    expect(metrics).toMatch(/runnerhub_github_budget_wait_seconds_total\{installation="1"\} [1-9]/);
    expect(metrics).not.toMatch(/runnerhub_github_budget_wait_seconds_total\{installation="2"\} [1-9]/);
  }, 240_000);
});
