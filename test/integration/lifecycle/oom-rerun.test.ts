import { UnrecoverableError } from "bullmq";
import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { requestOomRerun, rerunOnce, type RerunWorkerDeps } from "../../../src/lifecycle/oom-rerun.js";
import { oomRerunJobId, type OomRerunRequest } from "../../../src/queue/jobs.js";
import { GITHUB_API, runnerRecord, serviceContext, type ServiceContext } from "../support/context.js";

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
  deps = { github: ctx.newGitHub(), store: ctx.oomReruns.store, metrics: ctx.metrics, log: ctx.log, now: Date.now };
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

/** `target` with one method failing: what a process killed (or Redis lost) at that call leaves. */
function failingAt<T extends object>(target: T, method: keyof T): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      if (property === method) return () => Promise.reject(new Error(`stopped at ${String(method)}`));
      return Reflect.get(object, property, receiver) as unknown;
    },
  });
}

describe("requesting the re-run of an OOM-killed job", () => {
  const oomKilled = (jobId: number, runId: number) =>
    runnerRecord(`small-${jobId}`, {
      pool: "small",
      state: "busy",
      busyJobId: jobId,
      busyJob: { runId, name: "build", owner: "acme", repo: "app", labels: ["self-hosted", "linux"] },
    });
  const refOf = (runId: number) => ({ owner: "acme", repo: "app", runId, name: "build" });

  it("writes no claim when the queue entry could not be added, so a later clean-up still re-runs the job", async () => {
    const record = oomKilled(21, 921);
    const broken = { ...ctx.oomReruns, queue: failingAt(ctx.oomReruns.queue, "add") };
    await expect(requestOomRerun(record, "big", broken)).rejects.toThrow("stopped at add");
    expect(await ctx.oomReruns.store.claimOf(refOf(921))).toBeUndefined();

    expect(await requestOomRerun(record, "big", ctx.oomReruns)).toMatchObject({ pool: "big" });
    expect(await ctx.oomReruns.store.claimOf(refOf(921))).toMatchObject({ jobId: 21, toPool: "big" });
    expect(await (await ctx.oomReruns.queue.getJob(oomRerunJobId(21)))?.getState()).toBe("waiting");
  });

  it("re-runs a queued entry whose claim was never written, claiming it before GitHub is asked", async () => {
    const record = oomKilled(22, 922);
    const broken = { ...ctx.oomReruns, store: failingAt(ctx.oomReruns.store, "claim") };
    await expect(requestOomRerun(record, "big", broken)).rejects.toThrow("stopped at claim");
    const entry = await ctx.oomReruns.queue.getJob(oomRerunJobId(22));
    expect(entry?.data).toMatchObject({ jobId: 22, toPool: "big" });
    expect(await ctx.oomReruns.store.claimOf(refOf(922))).toBeUndefined();

    const done = github(22, { status: "completed", conclusion: "failure" }, [201]);
    expect(await rerunOnce(entry?.data ?? request(22), deps)).toBe("rerun");
    expect(done.isDone()).toBe(true);
    expect(await ctx.oomReruns.store.claimOf(refOf(922))).toMatchObject({
      jobId: 22,
      fromPool: "small",
      toPool: "big",
    });
  });

  it("re-runs a job once: a second OOM kill in its re-run queues nothing that asks GitHub", async () => {
    expect(await requestOomRerun(oomKilled(23, 923), "big", ctx.oomReruns)).toMatchObject({ pool: "big" });
    // The same clean-up again (its process stopped before retiring the runner) keeps the one claim.
    expect(await requestOomRerun(oomKilled(23, 923), "big", ctx.oomReruns)).toMatchObject({ pool: "big" });
    // The re-run (a new job id, same run and name) is OOM-killed too.
    expect(await requestOomRerun(oomKilled(24, 923), "big", ctx.oomReruns)).toBeUndefined();
    expect(await ctx.oomReruns.queue.getJob(oomRerunJobId(24))).toBeUndefined();

    // An entry of the second kill left by a race is answered without a GitHub call.
    const noPost = github(24, { status: "completed", conclusion: "failure" });
    expect(await rerunOnce({ ...request(24), runId: 923 }, deps)).toBe("not-needed");
    expect(noPost.isDone()).toBe(false);
    expect(await ctx.oomReruns.store.claimOf(refOf(923))).toMatchObject({ jobId: 23 });
  });
});
