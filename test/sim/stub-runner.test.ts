import type Dockerode from "dockerode";
import { afterEach, beforeEach, describe, expect, inject, it } from "vitest";
import { dockerClient } from "../support/docker-engine.js";
import { GitHubSimulator } from "./github-simulator.js";

const JWT = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOjF9.c2lnbmF0dXJl";

let sim: GitHubSimulator;
let docker: Dockerode;
const containers: Dockerode.Container[] = [];

beforeEach(async () => {
  sim = await GitHubSimulator.start({ webhookSecret: "stub-runner-test" });
  docker = dockerClient(inject("dockerHost"));
});

afterEach(async () => {
  await Promise.all(containers.splice(0).map((container) => container.remove({ force: true }).catch(() => undefined)));
  await sim.stop();
});

async function api(path: string, auth: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${sim.url}/api/v3${path}`, {
    method: "POST",
    headers: { authorization: auth, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as Record<string, unknown>;
}

/** Registers a runner with the simulator and starts the stub image with its JIT config; resolves at the start. */
async function startStub(name: string, env: Record<string, string>): Promise<{ id: number; startedAt: number }> {
  const { token } = (await api("/app/installations/1/access_tokens", `Bearer ${JWT}`)) as { token: string };
  const jit = (await api("/orgs/acme/actions/runners/generate-jitconfig", `token ${token}`, {
    name,
    runner_group_id: 1,
    labels: ["self-hosted", "linux"],
  })) as { runner: { id: number }; encoded_jit_config: string };
  const container = await docker.createContainer({
    Image: inject("stubImage"),
    Env: Object.entries({ ...env, ACTIONS_RUNNER_INPUT_JITCONFIG: jit.encoded_jit_config }).map(
      ([key, value]) => `${key}=${value}`,
    ),
    Cmd: ["/home/runner/run.sh"],
    HostConfig: { NetworkMode: "host" },
  });
  containers.push(container);
  await container.start();
  const state = (await container.inspect()).State;
  return { id: jit.runner.id, startedAt: Date.parse(state.StartedAt) };
}

function firstPoll(id: number): number | undefined {
  return sim.requests.find((request) => request.path === `/_sim/runners/${id}/poll`)?.at;
}

describe("the stub runner's boot time", () => {
  it("polls (is online) only after STUB_BOOT_SECONDS, as the real runner does after its boot", async () => {
    const { id, startedAt } = await startStub("booting", { STUB_BOOT_SECONDS: "2" });
    await sim.waitFor(() => Date.now() - startedAt > 1_500, { timeoutMs: 5_000, what: "1.5 s after the start" });
    expect(firstPoll(id)).toBeUndefined();
    expect(sim.runners().find((runner) => runner.id === id)?.online).toBe(false);

    const polled = await sim.waitFor(() => firstPoll(id), { timeoutMs: 10_000, what: "the first poll" });
    expect(polled - startedAt).toBeGreaterThanOrEqual(2_000);
    expect(polled - startedAt).toBeLessThan(4_000);
    expect(sim.runners().find((runner) => runner.id === id)?.online).toBe(true);
  });

  it("polls at once without STUB_BOOT_SECONDS, so tests keep their speed", async () => {
    const { id, startedAt } = await startStub("quick", {});
    const polled = await sim.waitFor(() => firstPoll(id), { timeoutMs: 5_000, what: "the first poll" });
    expect(polled - startedAt).toBeLessThan(1_000);
  });

  it("exits with code 2 and says why on a boot time that is not seconds", async () => {
    const { id } = await startStub("bad-boot", { STUB_BOOT_SECONDS: "4s" });
    const container = containers[0];
    if (!container) throw new Error("no container");
    const ended = await sim.waitFor(
      async () => {
        const state = (await container.inspect()).State;
        return !state.Running && state;
      },
      { timeoutMs: 10_000, what: "the stub to exit" },
    );
    expect(ended.ExitCode).toBe(2);
    const logs = (await container.logs({ stdout: true, stderr: true })).toString("utf8");
    expect(logs).toContain("STUB_BOOT_SECONDS must be seconds such as 4 or 0.5, got '4s'");
    expect(firstPoll(id)).toBeUndefined();
  });
});

describe("the stub runner refused for its version", () => {
  it("prints the real runner's refusal and exits 0, as actions/runner's run-helper.sh does", async () => {
    sim.refuseRunnerVersion("2.328.0");
    await startStub("outdated", {});
    const container = containers[0];
    if (!container) throw new Error("no container");
    const ended = await sim.waitFor(
      async () => {
        const state = (await container.inspect()).State;
        return !state.Running && state;
      },
      { timeoutMs: 10_000, what: "the stub to exit" },
    );
    expect(ended.ExitCode).toBe(0);
    const logs = (await container.logs({ stdout: true, stderr: true })).toString("utf8");
    expect(logs).toContain("An error occured: Runner version v2.328.0 is deprecated and cannot receive messages.");
    expect(logs).toContain("Runner listener exit with terminated error, stop the service, no retry needed.");
  });
});
