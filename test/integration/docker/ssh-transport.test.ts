/**
 * The ssh:// transport against the real engine, with a stand-in for the ssh client: a script that
 * records its arguments and runs what sshd would run on the far side, `docker system dial-stdio`
 * (Debian's docker CLI has it), against the test engine's socket. This checks everything of ours
 * (arguments, the HTTP agent over a child's stdio, calls and event streams through it, errors)
 * without an sshd; ssh itself is OpenSSH's business.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { parseDockerHost } from "../../../src/config/docker-host.js";
import { connectDocker, createContainerEngine, type ContainerEngine } from "../../../src/docker/engine.js";
import { LABELS } from "../../../src/docker/labels.js";
import { runnerContainerSpec } from "../../../src/docker/runner-spec.js";
import { waitFor } from "../../sim/github-simulator.js";
import { TEST_DOCKER_TIMEOUT_MS, testPool } from "../support/context.js";

let dir: string;
let argsFile: string;

function standIn(name: string, body: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, `#!/bin/sh\nprintf '%s\\n' "$@" > ${JSON.stringify(argsFile)}\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

function sshEngine(command: string): ContainerEngine {
  const parsed = parseDockerHost({ DOCKER_HOST: "ssh://ci@build-host:2222" });
  if (!parsed.ok) throw new Error(parsed.problems.join("; "));
  const docker = connectDocker(parsed.connection, { connectTimeoutMs: 5_000, command });
  return createContainerEngine("over-ssh", docker, { callTimeoutMs: TEST_DOCKER_TIMEOUT_MS });
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "runnerhub-ssh-"));
  argsFile = path.join(dir, "args");
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("ssh:// engines", () => {
  it("speak to the engine through `ssh … docker system dial-stdio`: calls, containers and events", async () => {
    const host = inject("dockerHost");
    const engine = sshEngine(standIn("ssh", `exec docker -H ${JSON.stringify(host)} system dial-stdio`));

    await engine.ping();
    expect(readFileSync(argsFile, "utf8").trim().split("\n")).toEqual([
      "-o",
      "BatchMode=yes",
      "-o",
      "ConnectTimeout=5",
      "-T",
      "-p",
      "2222",
      "-l",
      "ci",
      "--",
      "build-host",
      "docker",
      "system",
      "dial-stdio",
    ]);

    const died: string[] = [];
    const close = await engine.watch(
      undefined,
      (event) => {
        if (event.action === "die") died.push(event.containerId);
      },
      () => undefined,
    );
    try {
      const name = `ssh-${process.pid}`;
      const containerId = await engine.startContainer(
        runnerContainerSpec({
          name,
          pool: testPool({ command: ["sh", "-c", "exit 3"] }),
          runnerId: undefined,
          githubJobId: 1,
          owner: "acme",
          installationId: 7,
          registrationEnv: {},
        }),
      );
      await waitFor(() => died.includes(containerId), { timeoutMs: 20_000, what: "the die event over ssh" });
      expect(await engine.status(containerId)).toMatchObject({ kind: "ended", exit: { exitCode: 3 } });
      const listed = await engine.listManaged();
      expect(listed.find((c) => c.id === containerId)?.labels[LABELS.runnerName]).toBe(name);
      await engine.remove(containerId);
      expect(await engine.status(containerId)).toEqual({ kind: "missing" });
    } finally {
      close();
    }
  });

  it("fail with ssh's own message when the session cannot be opened", async () => {
    const engine = sshEngine(
      standIn("ssh-refused", "echo 'ci@build-host: Permission denied (publickey).' >&2; exit 255"),
    );
    await expect(engine.ping()).rejects.toThrow(
      /ssh to ssh:\/\/ci@build-host:2222 exited with code 255: ci@build-host: Permission denied \(publickey\)/,
    );
  });

  it("say how to fix a missing ssh client", async () => {
    const engine = sshEngine(path.join(dir, "no-such-ssh"));
    await expect(engine.ping()).rejects.toThrow(/install an OpenSSH client/);
  });
});
