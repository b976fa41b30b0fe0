import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JOB_STATES, runnerDetailSchema } from "../../src/admin/schemas.js";
import { oomRerunJobId, OOM_RERUN_QUEUE } from "../../src/queue/jobs.js";
import { Queue } from "bullmq";
import { waitFor } from "../sim/github-simulator.js";
import { startStack, stubPool, type Stack } from "./support/stack.js";
import { CLI, runCli } from "./support/cli.js";

const TOKEN = "insight-e2e-admin-token-0123456789";

let stack: Stack;

/** The built CLI against the built app, as a user runs it. */
const cli = (args: string[]) => runCli(args, { RUNNERHUB_URL: stack.app.url, ADMIN_TOKEN: TOKEN });

async function admin(path: string): Promise<string> {
  const response = await fetch(`${stack.app.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const text = await response.text();
  expect(response.status, `${path}: ${text}`).toBe(200);
  return text;
}

/** A runner whose start-up fails after printing the JIT config it was given (as a broken image might). */
const crashingPool = stubPool({
  name: "crashy",
  labels: ["self-hosted", "crashy"],
  command: [
    "sh",
    "-c",
    'echo "starting with config $ACTIONS_RUNNER_INPUT_JITCONFIG"; echo "runner: cannot configure: broker refused the session" >&2; exit 3',
  ],
});

/** Jobs of [self-hosted, linux, x64] land here (no extra label); 64 MiB is too little for some. */
const smallPool = stubPool({ name: "small", resources: { memory: "64m", pids: 128 }, oomRetryPool: "big" });
/** Carries every label of the small pool's jobs, and four times the memory. */
const bigPool = stubPool({
  name: "big",
  labels: ["self-hosted", "linux", "x64", "big"],
  resources: { memory: "256m", pids: 128 },
});

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` before the tests`);
  stack = await startStack({ pools: [crashingPool, smallPool, bigPool], env: { ADMIN_TOKEN: TOKEN } });
});

afterAll(async () => {
  await stack?.stop();
});

describe("what happened inside a runner, end to end", () => {
  let runnerName = "";

  it("keeps the last log lines and exit record of a runner that crashed at start-up, for runners show", async () => {
    await stack.sim.queueJob({ owner: "acme", repo: "app", labels: ["self-hosted", "crashy"] });
    runnerName = await waitFor(() => stack.sim.registrationHistory().find((r) => r.name.startsWith("crashy-"))?.name, {
      timeoutMs: 20_000,
      what: "a runner registered for the crashing pool",
    });

    const shown = await waitFor(
      async () => {
        const run = await cli(["runners", "show", runnerName]);
        return run.code === 0 && run.stdout.includes("exited") ? run : undefined;
      },
      { timeoutMs: 30_000, what: `runners show ${runnerName} to report the exit` },
    );
    expect(shown.stderr).toBe("");
    expect(shown.stdout).toMatch(new RegExp(`^name:\\s+${runnerName}$`, "m"));
    expect(shown.stdout).toMatch(/^pool:\s+crashy$/m);
    expect(shown.stdout).toMatch(/^state:\s+exited: crashed, exit code 3$/m);
    expect(shown.stdout).toContain("--- last log lines ---\n");
    expect(shown.stdout).toContain("runner: cannot configure: broker refused the session\n");
    expect(shown.stdout).toContain("starting with config ***\n");

    const logs = await cli(["runners", "logs", runnerName]);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toContain("runner: cannot configure: broker refused the session\n");

    const json = JSON.parse((await cli(["runners", "show", runnerName, "--json"])).stdout) as Record<string, unknown>;
    expect(json).toMatchObject({
      name: runnerName,
      state: "exited",
      exit: { reason: "crashed", exitCode: 3, oomKilled: false },
    });
  });

  it("shows no JIT config or token in those logs, in any admin API answer, or in the app's log", async () => {
    const secrets = stack.sim.issuedSecrets();
    expect(secrets.length).toBeGreaterThanOrEqual(2);
    const answers = [
      await admin("/admin/pools"),
      await admin("/admin/runners"),
      await admin(`/admin/runners/${runnerName}`),
      await admin(`/admin/runners/${runnerName}/logs`),
      await admin(`/admin/runners/${runnerName}/logs?follow=true`),
      await admin("/admin/queue"),
      await admin("/admin/openapi.json"),
    ];
    for (const state of JOB_STATES) {
      const page = await admin(`/admin/queue/jobs?state=${state}`);
      answers.push(page);
      for (const job of (JSON.parse(page) as { jobs: { id: string }[] }).jobs) {
        answers.push(await admin(`/admin/queue/jobs/${encodeURIComponent(job.id)}`));
      }
    }
    const cliOutput = [
      (await cli(["runners", "show", runnerName])).stdout,
      (await cli(["runners", "logs", runnerName])).stdout,
    ];
    const scanned = [...answers, ...cliOutput, stack.app.logs().join("\n")];
    for (const secret of secrets) {
      for (const text of scanned)
        expect(text.includes(secret), `a secret leaked into: ${text.slice(0, 200)}`).toBe(false);
    }
    expect(answers.join("\n")).not.toMatch(/ghs_[A-Za-z0-9]{20,}/);
  });

  it("re-runs a job whose runner was OOM-killed once, on the bigger pool, whose runner takes it", async () => {
    const job = await stack.sim.queueJob({
      owner: "acme",
      repo: "app",
      labels: ["self-hosted", "linux", "x64"],
      behavior: { kind: "memory", megabytes: 48 },
    });
    const small = await waitFor(() => stack.sim.registrationHistory().find((r) => r.name.startsWith("small-")), {
      timeoutMs: 20_000,
      what: "a runner of the small pool",
    });
    const killed = await waitFor(
      async () => {
        const response = await fetch(`${stack.app.url}/admin/runners/${small.name}`, {
          headers: { authorization: `Bearer ${TOKEN}` },
        });
        const detail = runnerDetailSchema.parse(await response.json());
        return detail.state === "exited" && detail;
      },
      { timeoutMs: 30_000, what: "the small runner's exit record" },
    );
    expect(killed).toMatchObject({
      busyJobId: job.id,
      exit: { reason: "oom-killed", oomKilled: true },
      usage: { peakMemoryBytes: 64 * 1024 * 1024 },
      rerun: { pool: "big" },
    });

    // What GitHub does a while after a runner vanished mid-job: the job fails, the run completes.
    await stack.sim.loseRunner(small.id);

    const rerun = await waitFor(
      () => {
        const found = stack.sim.jobs().find((j) => j.runId === job.runId && j.runAttempt === 2);
        return found?.status === "completed" && found;
      },
      { timeoutMs: 60_000, what: "the re-run job to be served and completed" },
    );
    expect(rerun).toMatchObject({ name: job.name, conclusion: "success", labels: job.labels });
    expect(rerun.runnerName).toMatch(/^big-/);
    const big = stack.sim.registrationHistory().find((r) => r.name === rerun.runnerName);
    expect(big?.labels).toEqual(bigPool.labels);

    // Exactly once: the re-run entry is finished, and the run has exactly the two attempts.
    const queue = new Queue(OOM_RERUN_QUEUE, { connection: stack.redis, prefix: stack.prefix });
    try {
      expect(await (await queue.getJob(oomRerunJobId(job.id)))?.getState()).toBe("completed");
      expect(await queue.getJobCounts("waiting", "delayed", "active", "failed")).toEqual({
        waiting: 0,
        delayed: 0,
        active: 0,
        failed: 0,
      });
    } finally {
      await queue.close();
    }
    expect(stack.sim.jobs().filter((j) => j.runId === job.runId)).toHaveLength(2);
    const accepted = stack.sim.requests.filter((r) => r.method === "POST" && r.path.endsWith(`/jobs/${job.id}/rerun`));
    expect(accepted.length).toBeGreaterThanOrEqual(1);

    // The OOM-killed runner ran a job: it is in its pool's histograms, at its whole memory limit.
    const metrics = await (await fetch(`${stack.app.url}/metrics`)).text();
    expect(metrics).toMatch(/runnerhub_oom_reruns_total\{pool="small",retry_pool="big"\} 1/);
    expect(metrics).toMatch(/runnerhub_runner_peak_memory_bytes_count\{pool="small"\} 1/);
    expect(metrics).toMatch(/runnerhub_runner_peak_memory_bytes_sum\{pool="small"\} 67108864/);
    expect(metrics).toMatch(/runnerhub_runner_cpu_seconds_count\{pool="small"\} 1/);

    const shown = await cli(["runners", "show", small.name]);
    expect(shown.stdout).toMatch(/^state:\s+exited: oom-killed, exit code 137, OOM-killed$/m);
    expect(shown.stdout).toMatch(/^re-run:\s+on pool big, /m);
    expect(shown.stdout).toMatch(/^peak memory:\s+64\.0 MiB$/m);
  });
});
