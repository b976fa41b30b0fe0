/**
 * The engine adapter against a frozen dockerd (SIGSTOP): every request/response call fails with
 * EngineTimeoutError at its deadline, and an open event stream is noticed and ended by its ping
 * check. A private engine, so freezing it disturbs no other test.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createContainerEngine, EngineTimeoutError, type ContainerEngine } from "../../../src/docker/engine.js";
import { runnerContainerSpec } from "../../../src/docker/runner-spec.js";
import { waitFor } from "../../sim/github-simulator.js";
import { buildStubImage } from "../../sim/stub-image.js";
import { DockerEngine } from "../../support/docker-engine.js";
import { testPool } from "../support/context.js";

const CALL_TIMEOUT_MS = 1_000;
const STREAM_CHECK_MS = 200;

let dockerd: DockerEngine;
let engine: ContainerEngine;

beforeAll(async () => {
  dockerd = await DockerEngine.start();
  await buildStubImage(dockerd.client());
  engine = createContainerEngine("frozen", dockerd.client(), {
    callTimeoutMs: CALL_TIMEOUT_MS,
    streamCheckMs: STREAM_CHECK_MS,
  });
}, 60_000);

afterAll(async () => {
  dockerd?.thaw();
  await dockerd?.destroy();
}, 60_000);

describe("a frozen engine", () => {
  it("fails each call at its deadline, names the call, and answers again after SIGCONT", async () => {
    await engine.ping();
    await dockerd.freeze();
    try {
      const calls: [string, () => Promise<unknown>][] = [
        ["/_ping", () => engine.ping()],
        ["container list", () => engine.listManaged()],
        ["container inspect", () => engine.status("0123456789ab")],
        ["container remove", () => engine.remove("0123456789ab")],
        ["container create", () => engine.startContainer({ Image: "none", name: "never" })],
      ];
      for (const [call, run] of calls) {
        const error = await run().then(
          () => undefined,
          (failure: unknown) => failure,
        );
        expect(error).toBeInstanceOf(EngineTimeoutError);
        expect((error as Error).message).toBe(
          `Docker engine frozen did not answer ${call} within ${CALL_TIMEOUT_MS} ms`,
        );
      }
      // stop asks Docker to wait its grace period, so its deadline is the grace plus the call timeout.
      await expect(engine.stop("0123456789ab", 1)).rejects.toThrow(
        `did not answer container stop within ${1_000 + CALL_TIMEOUT_MS} ms`,
      );
    } finally {
      dockerd.thaw();
    }
    await waitFor(() => engine.ping().then(() => true), { timeoutMs: 10_000, what: "the engine to answer again" });
  });

  it("ends an open event stream with an error once a ping goes unanswered", async () => {
    let ended: Error | undefined | null = null;
    const close = await engine.watch(
      undefined,
      () => undefined,
      (error) => {
        ended = error;
      },
    );
    try {
      await dockerd.freeze();
      const error = await waitFor(() => ended !== null && ended, {
        timeoutMs: 10_000,
        what: "the event stream to be ended by its ping check",
      });
      expect(String(error)).toMatch(/event stream dropped: Docker engine frozen did not answer \/_ping within 1000 ms/);
    } finally {
      dockerd.thaw();
      close();
    }
  });

  it("ends a followed log stream with an error once a ping goes unanswered", async () => {
    const containerId = await engine.startContainer(
      runnerContainerSpec({
        name: `follow-${process.pid}`,
        pool: testPool({ command: ["sh", "-c", "echo started; sleep 300"] }),
        runnerId: undefined,
        githubJobId: 1,
        owner: "acme",
        installationId: 7,
        registrationEnv: {},
      }),
    );
    const follow = await engine.followLogs(containerId, 10);
    const failed = new Promise<Error>((resolve) => follow.stream.once("error", resolve));
    const lines: string[] = [];
    follow.stream.on("data", (line: unknown) => lines.push(String(line)));
    try {
      await waitFor(() => lines.join("").includes("started"), { timeoutMs: 10_000, what: "the first log line" });
      await dockerd.freeze();
      expect(String(await failed)).toMatch(
        /log stream dropped: Docker engine frozen did not answer \/_ping within 1000 ms/,
      );
    } finally {
      dockerd.thaw();
      follow.close();
      await engine.remove(containerId);
    }
  });
});
