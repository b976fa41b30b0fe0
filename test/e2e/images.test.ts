import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import type { PoolView } from "../../src/admin/schemas.js";
import { waitFor } from "../sim/github-simulator.js";
import { pullEvents, RegistryServer } from "../support/registry.js";
import { dockerClient } from "../support/docker-engine.js";
import { startStack, stubPool, type Stack } from "./support/stack.js";

const TOKEN = "e2e-admin-token-images-0123456789";
/** Sent with every pull from the loopback registry (which asks for none); must never show up. */
const REGISTRY_PASSWORD = "registry-pw-never-logged-7f3a";

let registry: RegistryServer;
let stack: Stack;
let served: string;
let shared: string;
let ghost: string;
const docker = dockerClient(inject("dockerHost"));

beforeAll(async () => {
  registry = await RegistryServer.start();
  // Pushed, then untagged locally: these references exist only in the registry.
  served = await registry.push(docker, inject("stubImage"), "stub", "1");
  shared = await registry.push(docker, inject("stubImage"), "stub", "2");
  ghost = `${registry.host}/nothing:1`;
  stack = await startStack({
    pools: [
      stubPool({ name: "registry", labels: ["self-hosted", "linux", "registry"], image: served }),
      stubPool({ name: "ten", labels: ["self-hosted", "linux", "ten"], image: shared, maxRunners: 10 }),
      stubPool({ name: "ghost", labels: ["self-hosted", "linux", "ghost"], image: ghost }),
    ],
    env: {
      ADMIN_TOKEN: TOKEN,
      RUNNERHUB_REGISTRY_AUTH: JSON.stringify({
        auths: { [registry.host]: { username: "e2e", password: REGISTRY_PASSWORD } },
      }),
    },
  });
});

afterAll(async () => {
  await stack?.stop();
  for (const image of [served, shared]) {
    if (image)
      await docker
        .getImage(image)
        .remove()
        .catch(() => undefined);
  }
  await registry?.stop();
});

async function pools(): Promise<PoolView[]> {
  const answer = await fetch(`${stack.app.url}/admin/pools`, { headers: { authorization: `Bearer ${TOKEN}` } });
  return ((await answer.json()) as { pools: PoolView[] }).pools;
}

async function imageStatus(pool: string) {
  return (await pools()).find((view) => view.name === pool)?.imageStatus[0];
}

const jitRequests = () =>
  stack.sim.requests.filter((r) => r.method === "POST" && r.path.endsWith("/generate-jitconfig")).length;

/** The app's log lines about failed pulls of `image`, as parsed JSON. */
function pullFailures(image: string): { time: string; reason: string; attempts: number }[] {
  return stack.app
    .logs()
    .filter((line) => line.includes('"image pull failed') && line.includes(`"image":"${image}"`))
    .map((line) => JSON.parse(line) as { time: string; reason: string; attempts: number });
}

describe("runner images from a registry", () => {
  it("pre-pulls a pool image that exists only in a registry and serves the pool's job with it", async () => {
    const status = await waitFor(
      async () => {
        const found = await imageStatus("registry");
        return found?.state === "present" && found;
      },
      { timeoutMs: 30_000, what: "the registry pool's image to be pre-pulled at start" },
    );
    expect(status.lastPulledAt).not.toBeNull();
    const job = await stack.sim.queueJob({
      owner: "acme",
      repo: "app",
      labels: ["self-hosted", "registry"],
      behavior: { kind: "run", seconds: 1 },
    });
    await waitFor(() => stack.sim.getJob(job.id)?.conclusion === "success", {
      timeoutMs: 30_000,
      what: "the registry pool's job to succeed",
    });
    const metrics = await (await fetch(`${stack.app.url}/metrics`)).text();
    expect(metrics).toMatch(/^runnerhub_image_pull_seconds_count\{pool="registry",result="success"\} 1$/m);
    expect(stack.app.logs().some((line) => line.includes('"image pulled"') && line.includes(served))).toBe(true);
  });

  it("pulls an image once for ten jobs that need it at the same time", async () => {
    await waitFor(async () => (await imageStatus("ten"))?.state === "present", {
      timeoutMs: 30_000,
      what: "the pre-pull of the shared image to finish",
    });
    // Taken away again, so that the ten jobs find it missing together.
    await docker.getImage(shared).remove();
    const since = Date.now();
    const jobs = await Promise.all(
      Array.from({ length: 10 }, () =>
        stack.sim.queueJob({
          owner: "acme",
          repo: "app",
          labels: ["self-hosted", "ten"],
          behavior: { kind: "run", seconds: 1 },
        }),
      ),
    );
    await waitFor(() => jobs.every((job) => stack.sim.getJob(job.id)?.conclusion === "success"), {
      timeoutMs: 90_000,
      what: "all ten jobs to succeed",
    });
    expect(await pullEvents(docker, shared, since, Date.now())).toBe(1);
  }, 120_000);

  it("shows an unknown image as a clear error with backoff, and spends no registration on it", async () => {
    const before = jitRequests();
    const job = await stack.sim.queueJob({ owner: "acme", repo: "app", labels: ["self-hosted", "ghost"] });
    // The pre-pull at start failed once; the job's attempts wait for the backoff, then try again.
    const failures = await waitFor(() => pullFailures(ghost).length >= 2 && pullFailures(ghost), {
      timeoutMs: 30_000,
      what: "a second failed pull of the unknown image",
    });
    const [first, second] = failures;
    if (!first || !second) throw new Error("unreachable");
    expect(first).toMatchObject({ reason: "not-found", attempts: 1 });
    expect(second).toMatchObject({ reason: "not-found", attempts: 2 });
    // Backoff, not a tight loop: the second attempt came no sooner than the first retry delay.
    expect(Date.parse(second.time) - Date.parse(first.time)).toBeGreaterThanOrEqual(5_000);

    const status = await imageStatus("ghost");
    expect(status).toMatchObject({ state: "failed", failure: { reason: "not-found", attempts: expect.any(Number) } });
    expect(Date.parse(status?.failure?.nextRetryAt ?? "")).toBeGreaterThan(Date.parse(status?.failure?.failedAt ?? ""));
    expect(status?.failure?.message).toMatch(/nothing/);

    // The demand stays queued (delayed until the next attempt), and GitHub saw no registration.
    const entry = await fetch(`${stack.app.url}/admin/queue/jobs/job-${job.id}`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(((await entry.json()) as { state: string }).state).toBe("delayed");
    expect(jitRequests()).toBe(before);
    expect(stack.sim.runners().filter((runner) => runner.name.startsWith("ghost-"))).toEqual([]);

    const metrics = await (await fetch(`${stack.app.url}/metrics`)).text();
    expect(metrics).toMatch(/^runnerhub_image_pull_failures_total\{pool="ghost",reason="not-found"\} [2-9]/m);
  });

  it("never shows the registry password in logs or admin answers", async () => {
    expect(stack.app.logs().filter((line) => line.includes(REGISTRY_PASSWORD))).toEqual([]);
    expect(JSON.stringify(await pools())).not.toContain(REGISTRY_PASSWORD);
  });
});
