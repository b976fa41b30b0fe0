import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor, type JobBehavior, type SimJob } from "../sim/github-simulator.js";
import { startStack, stubPool, type Stack } from "./support/stack.js";

let stack: Stack;

beforeAll(async () => {
  // One runner at a time, so the second and third jobs wait for capacity.
  stack = await startStack({ pools: [stubPool({ maxRunners: 1 })] });
});

afterAll(async () => {
  await stack?.stop();
});

async function scrape(): Promise<string> {
  return (await fetch(`${stack.app.url}/metrics`)).text();
}

/** The value of one sample, e.g. sample(text, 'runnerhub_jobs_queued_total{pool="linux"}'). */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const PHASES = [
  "runnerhub_webhook_delay_seconds",
  "runnerhub_queue_wait_seconds",
  "runnerhub_capacity_wait_seconds",
  "runnerhub_jit_config_seconds",
  "runnerhub_container_start_seconds",
  "runnerhub_runner_online_seconds",
  "runnerhub_job_start_seconds",
];

describe("metrics after end-to-end jobs", () => {
  it("observes every phase of the wait once per job and counts jobs, exits and limits", async () => {
    const behaviors: JobBehavior[] = [{ kind: "run", seconds: 1 }, { kind: "run", seconds: 1 }, { kind: "oom" }];
    const jobs: SimJob[] = [];
    for (const behavior of behaviors) {
      jobs.push(await stack.sim.queueJob({ owner: "acme", repo: "app", labels: ["self-hosted", "linux"], behavior }));
    }
    const oomJob = jobs[2];
    if (!oomJob) throw new Error("unreachable");

    // GitHub fails the job of a runner that vanished; the simulator does it when told.
    await waitFor(async () => sample(await scrape(), 'runnerhub_oom_kills_total{pool="linux"}') === 1, {
      timeoutMs: 60_000,
      what: "the OOM kill to be counted",
    });
    await stack.sim.loseRunner(stack.sim.getJob(oomJob.id)?.runnerId ?? 0);
    await waitFor(() => jobs.every((job) => stack.sim.getJob(job.id)?.status === "completed"), {
      timeoutMs: 60_000,
      what: "all jobs to complete",
    });
    const text = await waitFor(
      async () => {
        const current = await scrape();
        const exits = ["completed", "oom-killed"].map(
          (reason) => sample(current, `runnerhub_runner_exits_total{pool="linux",reason="${reason}"}`) ?? 0,
        );
        const completed = sample(current, 'runnerhub_jobs_completed_total{pool="linux",conclusion="failure"}');
        return exits[0] === 2 && exits[1] === 1 && completed === 1 && current;
      },
      { timeoutMs: 30_000, what: "every exit and completion to be counted" },
    );

    for (const phase of PHASES) expect(sample(text, `${phase}_count{pool="linux"}`), phase).toBe(3);
    // Two of the three jobs waited for the one slot.
    expect(sample(text, 'runnerhub_capacity_wait_seconds_sum{pool="linux"}')).toBeGreaterThan(0);
    expect(sample(text, 'runnerhub_capacity_wait_seconds_bucket{le="0.05",pool="linux"}')).toBeLessThanOrEqual(1);

    expect(sample(text, 'runnerhub_jobs_queued_total{pool="linux"}')).toBe(3);
    expect(sample(text, 'runnerhub_jobs_started_total{pool="linux"}')).toBe(3);
    expect(sample(text, 'runnerhub_jobs_completed_total{pool="linux",conclusion="success"}')).toBe(2);
    expect(sample(text, 'runnerhub_oom_kills_total{pool="linux"}')).toBe(1);
    expect(sample(text, 'runnerhub_pool_max_runners{pool="linux"}')).toBe(1);
    expect(sample(text, 'runnerhub_pool_min_idle{pool="linux"}')).toBe(0);
    expect(sample(text, 'runnerhub_queue_jobs{queue="provision",state="completed"}')).toBe(3);
    expect(sample(text, 'runnerhub_queue_jobs{queue="provision",state="delayed"}')).toBe(0);
    expect(
      sample(
        text,
        'runnerhub_github_requests_total{installation="1",route="POST /orgs/{org}/actions/runners/generate-jitconfig",status="201"}',
      ),
    ).toBe(3);
    expect(text).toContain("# TYPE runnerhub_docker_errors_total counter");
    expect(text).toContain("# TYPE runnerhub_reconcile_actions_total counter");
  }, 150_000);

  it("writes log lines with one key per field, and job fields on the lines about a runner", () => {
    const lines = stack.app.logs().filter((line) => line.startsWith("{"));
    for (const line of lines) expect(line.match(/"name":/g)?.length ?? 0, line).toBeLessThanOrEqual(1);
    const started = lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((l) => l.msg === "runner started");
    expect(started).toHaveLength(3);
    for (const line of started) {
      expect(line).toMatchObject({ pool: "linux", jobId: expect.any(Number), deliveryId: expect.any(String) });
      expect(line.runnerName).toMatch(/^linux-/);
    }
  });
});
