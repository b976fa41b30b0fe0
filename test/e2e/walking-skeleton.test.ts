import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LABELS } from "../../src/docker/labels.js";
import { PROVISION_QUEUE, provisionJobId } from "../../src/queue/jobs.js";
import { waitFor } from "../sim/github-simulator.js";
import { startStack, WEBHOOK_SECRET, type Stack } from "./support/stack.js";

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});

afterAll(async () => {
  await stack?.stop();
});

type Payload = { workflow_job: { id: number } };
const payloadOf = (delivery: { body: string }) => JSON.parse(delivery.body) as Payload;
const deliveriesFor = (githubJobId: number) =>
  stack.sim.deliveries().filter((d) => payloadOf(d).workflow_job?.id === githubJobId);

/** BullMQ's hash of the provision-queue entry for one GitHub job. */
const provisionEntry = (githubJobId: number) => stack.keys.queueJob(PROVISION_QUEUE, provisionJobId(githubJobId));

const jitRequests = () =>
  stack.sim.requests.filter((r) => r.method === "POST" && r.path.endsWith("/generate-jitconfig"));

describe("a queued job gets a runner container, end to end", () => {
  it("answers /healthz and /readyz with Redis and Docker reachable and the engine name its own", async () => {
    const ready = await fetch(`${stack.app.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: "ready",
      checks: { redis: "ok", docker: "ok", engineName: "ok" },
    });
  });

  it("runs the job in a fresh labeled container that is gone afterwards", async () => {
    const job = await stack.sim.queueJob({
      owner: "acme",
      repo: "app",
      labels: ["self-hosted", "linux"],
      behavior: { kind: "run", seconds: 1 },
    });

    const [container] = await waitFor(
      async () => {
        const found = await stack.containers({ [LABELS.githubJobId]: String(job.id) });
        return found.length > 0 && found;
      },
      { timeoutMs: 20_000, what: "a runner container for the job" },
    );
    if (!container) throw new Error("unreachable");
    const runnerName = container.Labels[LABELS.runnerName] ?? "";
    expect(container.Labels).toMatchObject({
      [LABELS.managed]: "true",
      [LABELS.pool]: "linux",
      [LABELS.githubJobId]: String(job.id),
      [LABELS.owner]: "acme",
      [LABELS.installationId]: "1",
    });
    expect(runnerName).toMatch(/^linux-[0-9a-f]{8}$/);
    const registration = stack.sim.runners().find((runner) => runner.name === runnerName);
    expect(container.Labels[LABELS.runnerId]).toBe(String(registration?.id));
    // The stub goes online only with a JIT config it can decode, so taking the job proves the env.

    const done = await waitFor(() => stack.sim.getJob(job.id)?.status === "completed" && stack.sim.getJob(job.id), {
      timeoutMs: 30_000,
      what: "the job to complete",
    });
    expect(done).toMatchObject({ conclusion: "success", runnerName });
    // The simulator records a delivery once the app has answered it.
    const actions = await waitFor(
      () => {
        const seen = deliveriesFor(job.id).map((d) => `${d.action}:${d.statusCode}`);
        return seen.length === 3 && seen;
      },
      { timeoutMs: 10_000, what: "three webhooks delivered" },
    );
    expect(actions).toEqual(["queued:200", "in_progress:200", "completed:200"]);

    await waitFor(async () => (await stack.containers({ [LABELS.githubJobId]: String(job.id) })).length === 0, {
      timeoutMs: 20_000,
      what: "the runner container to be removed",
    });
    await waitFor(async () => !(await stack.redis.sismember(stack.keys.runners, runnerName)), {
      timeoutMs: 5_000,
      what: "the runner record to be cleared",
    });
    expect(await stack.redis.get(stack.keys.runner(runnerName))).toBeNull();
    expect(stack.sim.runners().find((runner) => runner.name === runnerName)).toBeUndefined();
  });

  it("exports Prometheus metrics of what happened", async () => {
    const exits = /^runnerhub_runner_exits_total\{pool="linux",reason="completed"\} [1-9]/m;
    const metrics = await waitFor(
      async () => {
        const text = await (await fetch(`${stack.app.url}/metrics`)).text();
        return exits.test(text) && text;
      },
      { timeoutMs: 10_000, what: "the runner exit to be counted" },
    );
    expect(metrics).toMatch(/^runnerhub_runners_created_total\{pool="linux"\} [1-9]/m);
    expect(metrics).toMatch(/^runnerhub_webhooks_total\{action="queued",outcome="enqueued"\} [1-9]/m);
    expect(metrics).toContain("# TYPE runnerhub_runners gauge");
  });

  it("makes one runner for a webhook delivered twice", async () => {
    const before = jitRequests().length;
    const job = await stack.sim.queueJob({
      owner: "acme",
      repo: "app",
      labels: ["self-hosted", "linux"],
      behavior: { kind: "hang" },
    });
    const first = deliveriesFor(job.id).find((d) => d.action === "queued");
    if (!first) throw new Error("the simulator recorded no queued delivery");
    for (let i = 0; i < 2; i++) {
      expect((await stack.sim.sendWebhook("workflow_job", payloadOf(first), { deliveryId: first.guid })).status).toBe(
        200,
      );
    }

    await waitFor(() => stack.sim.getJob(job.id)?.status === "in_progress", {
      timeoutMs: 20_000,
      what: "the job to be taken",
    });
    // Once the provision entry for this job is finished, nothing more can come of it.
    await waitFor(async () => (await stack.redis.hget(provisionEntry(job.id), "finishedOn")) !== null, {
      timeoutMs: 10_000,
      what: "the provision entry to finish",
    });
    expect(jitRequests().length - before).toBe(1);
    const containers = await stack.containers({ [LABELS.githubJobId]: String(job.id) });
    expect(containers).toHaveLength(1);
    const info = await stack.docker.getContainer(containers[0]?.Id ?? "").inspect();
    expect(info.Config.Env.filter((e) => e.startsWith("ACTIONS_RUNNER_INPUT_JITCONFIG="))).toHaveLength(1);
  });

  it("makes no runner for a job whose labels no pool carries", async () => {
    const before = jitRequests().length;
    const job = await stack.sim.queueJob({ owner: "acme", repo: "app", labels: ["self-hosted", "windows"] });
    await stack.app.waitForLog(new RegExp(`"jobId":${job.id}.*job ignored`), 10_000);
    expect(jitRequests().length).toBe(before);
    expect(await stack.containers({ [LABELS.githubJobId]: String(job.id) })).toHaveLength(0);
    expect(await stack.redis.exists(provisionEntry(job.id))).toBe(0);
  });

  it("refuses a webhook with a bad signature and enqueues nothing", async () => {
    const queued = stack.sim.deliveries().find((d) => d.action === "queued");
    if (!queued) throw new Error("the simulator recorded no queued delivery");
    const payload = payloadOf(queued);
    const forged = { ...payload, workflow_job: { ...payload.workflow_job, id: 777_777 } };
    const { status } = await stack.sim.sendWebhook("workflow_job", forged, { secret: `not-${WEBHOOK_SECRET}` });
    expect(status).toBe(400);
    expect(await stack.redis.exists(provisionEntry(777_777))).toBe(0);
  });
});
