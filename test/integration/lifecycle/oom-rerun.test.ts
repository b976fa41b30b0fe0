import { UnrecoverableError } from "bullmq";
import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { rerunOnce, type RerunWorkerDeps } from "../../../src/lifecycle/oom-rerun.js";
import type { OomRerunRequest } from "../../../src/queue/jobs.js";
import { GITHUB_API, serviceContext, type ServiceContext } from "../support/context.js";

let ctx: ServiceContext;
let deps: RerunWorkerDeps;

const request = (jobId: number): OomRerunRequest => ({
  installationId: 7,
  owner: "acme",
  repo: "app",
  jobId,
  runId: 900 + jobId,
  jobName: "build",
  fromPool: "small",
  toPool: "big",
  runnerName: "small-abc",
});

/** GitHub's side: the job's state, then (when given) its answer to the re-run. */
function github(jobId: number, job: { status: string; conclusion: string | null }, rerun?: [number, object?]) {
  const scope = nock(GITHUB_API)
    .post("/app/installations/7/access_tokens")
    .optionally()
    .reply(201, { token: "ghs_t", expires_at: new Date(Date.now() + 3600_000).toISOString() })
    .get(`/repos/acme/app/actions/jobs/${jobId}`)
    .reply(200, { id: jobId, ...job });
  if (rerun) scope.post(`/repos/acme/app/actions/jobs/${jobId}/rerun`).reply(rerun[0], rerun[1] ?? {});
  return scope;
}

const reruns = async () =>
  (await ctx.metrics.oomReruns.get()).values.find((v) => v.labels.pool === "small" && v.labels.retry_pool === "big")
    ?.value ?? 0;

beforeAll(async () => {
  ctx = await serviceContext();
  nock.disableNetConnect();
  nock.enableNetConnect((host) => host.startsWith("127.0.0.1") || host.startsWith("localhost"));
  deps = { github: ctx.newGitHub(), store: ctx.oomReruns.store, metrics: ctx.metrics, log: ctx.log };
});

afterEach(() => {
  nock.cleanAll();
});

afterAll(async () => {
  nock.enableNetConnect();
  await ctx.close();
});

describe("re-running an OOM-killed job (GitHub on nock)", () => {
  it("waits while the job still runs, then re-runs the failed job once and counts it", async () => {
    const before = await reruns();
    const running = github(1, { status: "in_progress", conclusion: null });
    await expect(rerunOnce(request(1), deps)).rejects.toThrow("job 1 is still in_progress");
    expect(running.isDone()).toBe(true);

    const done = github(1, { status: "completed", conclusion: "failure" }, [201]);
    expect(await rerunOnce(request(1), deps)).toBe("rerun");
    expect(done.isDone()).toBe(true);
    expect(await reruns()).toBe(before + 1);
  });

  it("asks again while GitHub says the run still runs", async () => {
    github(2, { status: "completed", conclusion: "failure" }, [
      403,
      { message: "The workflow run containing this job is already running" },
    ]);
    await expect(rerunOnce(request(2), deps)).rejects.toThrow("still running; re-run later");
  });

  it("gives up at once, naming the permission, when GitHub refuses the re-run", async () => {
    github(3, { status: "completed", conclusion: "failure" }, [
      403,
      { message: "Resource not accessible by integration" },
    ]);
    const failure = await rerunOnce(request(3), deps).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(UnrecoverableError);
    expect((failure as Error).message).toContain("Actions write permission");
  });

  it("does not re-run a job that did not fail, or whose re-run already arrived", async () => {
    const before = await reruns();
    github(4, { status: "completed", conclusion: "cancelled" });
    expect(await rerunOnce(request(4), deps)).toBe("not-needed");

    const ref = { owner: "acme", repo: "app", runId: 905, name: "build" };
    const claim = { jobId: 5, fromPool: "small", toPool: "big", runnerName: "small-abc", at: 1 };
    await ctx.oomReruns.store.claim(ref, claim);
    await ctx.oomReruns.store.markRequeued(ref, claim, 55);
    const noPost = github(5, { status: "completed", conclusion: "failure" });
    expect(await rerunOnce(request(5), deps)).toBe("not-needed");
    expect(noPost.isDone()).toBe(true);
    expect(await reruns()).toBe(before);
  });
});
