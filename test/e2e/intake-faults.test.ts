import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { provisionJobId, PROVISION_QUEUE } from "../../src/queue/jobs.js";
import { INTAKE_TIMEOUT_MS } from "../../src/tunables.js";
import { waitFor, type SimJob } from "../sim/github-simulator.js";
import type { AppProcess } from "../support/app-process.js";
import { watchRunning } from "./support/running-count.js";
import { linesWithRepeatedKeys, startStack, stubPool, type Stack } from "./support/stack.js";

const run = promisify(execFile);
const POOL = "linux";
const MAX_RUNNERS = 2;
/** Longer than the intake's bound, shorter than GitHub's 10 s: the old code answered 200 once Redis came back. */
const REDIS_PAUSE_MS = 6_000;
const LABELS = ["self-hosted", "linux"];

let stack: Stack;
/** The process GitHub's webhooks reach (replaced after a kill). */
let app: AppProcess;

beforeAll(async () => {
  stack = await startStack({
    pools: [stubPool({ name: POOL, maxRunners: MAX_RUNNERS })],
    env: { RUNNERHUB_RECOVERY_INTERVAL: "1s" },
  });
  app = stack.app;
});

afterAll(async () => {
  await stack?.stop();
});

/** Every client of the test Redis stalls, reads included (WRITE would let reads through). */
async function pauseRedis(ms: number): Promise<void> {
  await run("redis-cli", ["-u", inject("redisUrl"), "client", "pause", String(ms), "ALL"]);
}

/** CLIENT UNPAUSE would wait out the pause like any command: the test's own ping returns when it ends. */
async function redisBack(): Promise<void> {
  await stack.redis.ping();
}

function attempts(job: SimJob, action: string) {
  const first = stack.sim
    .deliveries()
    .find((d) => d.action === action && JSON.parse(d.body).workflow_job?.id === job.id);
  if (!first) return [];
  return stack.sim.deliveries().filter((d) => d.guid === first.guid);
}

async function metric(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${app.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

/** Nothing left behind: no container, no runner record, no slot held. */
async function nothingLeaked(): Promise<void> {
  await waitFor(
    async () =>
      (await stack.containers()).length === 0 &&
      (await stack.redis.scard(stack.keys.runners)) === 0 &&
      (await stack.redis.zcard(stack.keys.slots("pool", POOL))) === 0,
    { timeoutMs: 20_000, what: "no container, record or slot left" },
  );
}

const queue = (behavior: SimJob["behavior"] = { kind: "run", seconds: 1 }, deliver = true) =>
  stack.sim.queueJob({ owner: "acme", repo: "app", labels: LABELS, behavior, deliver });

describe("webhooks while Redis stalls (CLIENT PAUSE ALL)", () => {
  it("answers 503 within the bound; the recovery pass redelivers; the job is served exactly once", async () => {
    const watch = await watchRunning(stack.docker, POOL);
    try {
      await pauseRedis(REDIS_PAUSE_MS);
      const job = await queue();
      const [first] = attempts(job, "queued");
      expect(first?.statusCode).toBe(503);
      expect(first?.duration ?? Infinity).toBeLessThan((INTAKE_TIMEOUT_MS + 1_000) / 1000);
      await redisBack();
      await waitFor(() => stack.sim.getJob(job.id)?.conclusion === "success", {
        timeoutMs: 30_000,
        what: "the job to be served",
      });
      await waitFor(() => attempts(job, "queued").some((d) => d.redelivery && d.statusCode === 200), {
        timeoutMs: 10_000,
        what: "the failed delivery to be redelivered",
      });
      await nothingLeaked();
      expect(watch.state.starts).toBe(1);
      expect(stack.sim.registrationHistory()).toHaveLength(1);
    } finally {
      watch.stop();
    }
  });
});

describe("out-of-order webhooks", () => {
  it("ignores a queued that arrives after the job's completed: no demand, no runner", async () => {
    const before = await metric("runnerhub_webhooks_total", 'outcome="settled"');
    // The queued delivery fails (runnerhub was unreachable), the job is cancelled, and the
    // recovery pass redelivers the queued after the completed.
    const job = await queue({ kind: "run", seconds: 1 }, false);
    await stack.sim.cancelJob(job.id);
    await waitFor(() => attempts(job, "queued").some((d) => d.redelivery && d.statusCode === 200), {
      timeoutMs: 15_000,
      what: "the late queued to be redelivered and answered",
    });
    expect(await stack.redis.exists(stack.keys.queueJob(PROVISION_QUEUE, provisionJobId(job.id)))).toBe(0);
    expect(await stack.redis.zcard(stack.keys.queuedJobs(POOL))).toBe(0);
    expect(await metric("runnerhub_webhooks_total", 'outcome="settled"')).toBe(before + 1);
    expect(stack.sim.registrationHistory()).toHaveLength(1);
  });
});

describe("duplicate webhooks and GitHub errors", () => {
  it("serves every job once through 5xx, 429 and secondary limits, never over maxRunners", async () => {
    const jit = /\/actions\/runners\/generate-jitconfig$/;
    stack.sim.injectFault({ method: "POST", path: jit, times: 1, status: 500 });
    stack.sim.injectFault({ method: "POST", path: jit, times: 1, status: 502, message: "Bad Gateway" });
    stack.sim.injectFault({ method: "POST", path: jit, times: 1, status: 429, headers: { "retry-after": "1" } });
    stack.sim.injectFault({
      method: "POST",
      path: jit,
      times: 1,
      status: 403,
      headers: { "retry-after": "1" },
      message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
    });
    const registeredBefore = stack.sim.registrationHistory().length;
    const watch = await watchRunning(stack.docker, POOL);
    try {
      const jobs: SimJob[] = [];
      for (let i = 0; i < 4; i++) {
        const job = await queue({ kind: "run", seconds: 2 });
        jobs.push(job);
        const [original] = attempts(job, "queued");
        // GitHub may deliver an event twice (same guid) or a redelivery may cross the original.
        await stack.sim.sendWebhook("workflow_job", stack.sim.jobPayload(job.id, "queued"), {
          deliveryId: original?.guid,
        });
        await stack.sim.sendWebhook("workflow_job", stack.sim.jobPayload(job.id, "queued"));
      }
      await waitFor(() => jobs.every((job) => stack.sim.getJob(job.id)?.conclusion === "success"), {
        timeoutMs: 45_000,
        what: "every job to be served",
      });
      await nothingLeaked();
      expect(stack.sim.pendingFaults()).toEqual([]);
      expect(watch.state.starts).toBe(jobs.length);
      expect(stack.sim.registrationHistory().length - registeredBefore).toBe(jobs.length);
      expect(watch.state.max).toBeLessThanOrEqual(MAX_RUNNERS);
    } finally {
      watch.stop();
    }
  });
});

describe("a kill while Redis stalls", () => {
  it("a job answered 503 and then lost with the process is served after a restart", async () => {
    const watch = await watchRunning(stack.docker, POOL);
    try {
      await pauseRedis(REDIS_PAUSE_MS);
      const job = await queue();
      expect(attempts(job, "queued")[0]?.statusCode).toBe(503);
      await app.stop("SIGKILL");
      await redisBack();
      app = await stack.addProcess({});
      stack.sim.setWebhookUrl(`${app.url}/api/github/webhooks`);
      await waitFor(() => stack.sim.getJob(job.id)?.conclusion === "success", {
        timeoutMs: 30_000,
        what: "the job to be served after the restart",
      });
      await nothingLeaked();
      expect(watch.state.starts).toBe(1);
    } finally {
      watch.stop();
    }
  });

  it("every log line carries each key once", () => {
    expect(linesWithRepeatedKeys([...stack.app.logs(), ...app.logs()])).toEqual([]);
  });
});
