import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LABELS } from "../../src/docker/labels.js";
import { waitFor } from "../sim/github-simulator.js";
import { buildStubImage, STUB_IMAGE_TAG } from "../sim/stub-image.js";
import { freePort, startApp } from "../support/app-process.js";
import { DockerEngine } from "../support/docker-engine.js";
import { startStack, stubPool, type Stack } from "./support/stack.js";

/** Short, so a frozen engine fails work within the test's patience; the default is 30 s. */
const DOCKER_TIMEOUT_MS = 3_000;
const SHUTDOWN_TIMEOUT_MS = 5_000;
/** The readiness check's own bound (src/http/health.ts) plus one poll and a request's slack. */
const READYZ_DEADLINE_MS = 10_000;

let engine: DockerEngine;
let stack: Stack;

beforeAll(async () => {
  engine = await DockerEngine.start({ tls: true });
  // Built through the TLS listener: the image exists only on this engine.
  await buildStubImage(engine.tlsClient(), STUB_IMAGE_TAG);
  stack = await startStack({
    engine: { env: engine.tlsEnv, client: engine.tlsClient() },
    pools: [stubPool({ image: STUB_IMAGE_TAG })],
    env: {
      RUNNERHUB_ENGINE_NAME: "tls",
      RUNNERHUB_DOCKER_TIMEOUT: `${DOCKER_TIMEOUT_MS}ms`,
      RUNNERHUB_SHUTDOWN_TIMEOUT: `${SHUTDOWN_TIMEOUT_MS}ms`,
    },
  });
}, 120_000);

afterAll(async () => {
  engine?.thaw();
  await stack?.stop();
  await engine?.destroy();
}, 60_000);

const jobFor = (labels = ["self-hosted", "linux"]) =>
  stack.sim.queueJob({ owner: "acme", repo: "app", labels, behavior: { kind: "run", seconds: 1 } });

async function readyz(): Promise<{ status: number; body: { checks: Record<string, string> } }> {
  const answer = await fetch(`${stack.app.url}/readyz`, { signal: AbortSignal.timeout(READYZ_DEADLINE_MS) });
  return { status: answer.status, body: (await answer.json()) as { checks: Record<string, string> } };
}

describe("an engine over TCP with TLS (DOCKER_HOST + DOCKER_TLS_VERIFY + DOCKER_CERT_PATH)", () => {
  it("provisions a runner there that serves the job", async () => {
    expect(await readyz()).toMatchObject({ status: 200, body: { checks: { docker: "ok" } } });
    const job = await jobFor();
    const done = await waitFor(() => stack.sim.getJob(job.id)?.status === "completed" && stack.sim.getJob(job.id), {
      timeoutMs: 60_000,
      what: "the job to complete on the TLS engine",
    });
    expect(done).toMatchObject({ conclusion: "success" });
    await waitFor(async () => (await stack.containers({ [LABELS.githubJobId]: String(job.id) })).length === 0, {
      timeoutMs: 20_000,
      what: "the runner container to be removed from the TLS engine",
    });
  });

  it("tells a client that speaks plain HTTP to the TLS port what to set", async () => {
    const { DOCKER_HOST } = engine.tlsEnv;
    const port = await freePort();
    const failed = startApp({
      env: {
        ...Object.fromEntries(
          Object.entries(stack.baseEnv).filter(([key]) => !["DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"].includes(key)),
        ),
        DOCKER_HOST: DOCKER_HOST ?? "",
        PORT: String(port),
      },
    });
    await expect(failed).rejects.toThrow(/speaks TLS: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH/);
  });
});

describe("a frozen engine (SIGSTOP on dockerd)", () => {
  it("is not ready, fails the work it holds for retry, and serves a job queued meanwhile after SIGCONT", async () => {
    const before = stack.app.logs().length;
    await engine.freeze();
    let job: Awaited<ReturnType<typeof jobFor>>;
    try {
      const notReady = await waitFor(
        async () => {
          const answer = await readyz();
          return answer.status === 503 && answer;
        },
        { timeoutMs: READYZ_DEADLINE_MS, what: "/readyz to answer 503" },
      );
      expect(notReady.body.checks).toMatchObject({ redis: "ok", docker: "timeout" });

      job = await jobFor();
      // The attempt holding a worker slot fails at the call timeout and goes back for a retry.
      const failure = await stack.app.waitForLog(/provisioning attempt failed/, 30_000);
      expect(failure).toMatch(/did not answer [a-z/ _]+ within 3000 ms/);
      expect(
        stack.app
          .logs()
          .slice(before)
          .some((line) => line.includes("runner started")),
      ).toBe(false);
    } finally {
      engine.thaw();
    }
    const done = await waitFor(() => stack.sim.getJob(job.id)?.status === "completed" && stack.sim.getJob(job.id), {
      timeoutMs: 60_000,
      what: "the job queued while the engine was frozen to complete after SIGCONT",
    });
    expect(done).toMatchObject({ conclusion: "success" });
    await waitFor(async () => (await readyz()).status === 200, { timeoutMs: READYZ_DEADLINE_MS, what: "ready again" });
  });

  it("does not hold up shutdown", async () => {
    const app = stack.app;
    await engine.freeze();
    try {
      // Work in flight on the frozen engine while the process is told to stop.
      await jobFor();
      await waitFor(async () => (await readyz()).status === 503, { timeoutMs: READYZ_DEADLINE_MS, what: "not ready" });
      const started = Date.now();
      const code = await app.stop("SIGTERM");
      const took = Date.now() - started;
      // Exited by itself (a SIGKILL from the test helper would give null), within its bound plus slack.
      expect(code).not.toBeNull();
      expect(took).toBeLessThan(SHUTDOWN_TIMEOUT_MS + 3_000);
    } finally {
      engine.thaw();
    }
  });
});
