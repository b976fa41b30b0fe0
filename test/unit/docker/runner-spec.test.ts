import { describe, expect, it } from "vitest";
import { DEFAULT_RUNNER_LIMITS } from "../../../src/tunables.js";
import { LABELS } from "../../../src/docker/labels.js";
import { runnerContainerSpec } from "../../../src/docker/runner-spec.js";
import { pool } from "../support/pools.js";

const base = {
  name: "linux-1a2b3c4d",
  runnerId: 42,
  githubJobId: 9001,
  owner: "acme",
  installationId: 7,
  registrationEnv: { ACTIONS_RUNNER_INPUT_JITCONFIG: "ZW5jb2RlZA==" },
};

describe("runnerContainerSpec", () => {
  const linux = pool({
    name: "linux",
    labels: ["self-hosted", "linux"],
    resources: { memory: "512m", cpus: 1.5, pids: 256 },
    network: "none",
    env: { RUNNER_ALLOW_RUNASROOT: "0" },
  });
  const spec = runnerContainerSpec({ ...base, pool: linux });

  it("labels the container so runnerhub can find and own it", () => {
    expect(spec.Labels).toEqual({
      [LABELS.managed]: "true",
      [LABELS.pool]: "linux",
      [LABELS.runnerName]: "linux-1a2b3c4d",
      [LABELS.runnerId]: "42",
      [LABELS.githubJobId]: "9001",
      [LABELS.owner]: "acme",
      [LABELS.installationId]: "7",
      [LABELS.repo]: "",
    });
  });

  it("runs the runner with its JIT config and the pool's env", () => {
    expect(spec.name).toBe("linux-1a2b3c4d");
    expect(spec.Image).toBe("runner:test");
    expect(spec.Cmd).toEqual(["/home/runner/run.sh"]);
    expect(spec.Env).toEqual(["RUNNER_ALLOW_RUNASROOT=0", "ACTIONS_RUNNER_INPUT_JITCONFIG=ZW5jb2RlZA=="]);
  });

  it("applies the pool's limits and is locked down by default", () => {
    expect(spec.HostConfig).toMatchObject({
      NetworkMode: "none",
      Memory: 512 * 1024 ** 2,
      MemorySwap: 512 * 1024 ** 2,
      NanoCpus: 1_500_000_000,
      PidsLimit: 256,
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      RestartPolicy: { Name: "no" },
    });
    expect(spec.HostConfig?.Privileged).toBeUndefined();
    expect(spec.HostConfig?.Binds).toBeUndefined();
    expect(spec.HostConfig?.Mounts).toBeUndefined();
  });

  it("applies the default memory and pids limits to a pool that sets none", () => {
    const bare = runnerContainerSpec({ ...base, pool: pool({ name: "b", labels: ["self-hosted"] }) });
    expect(bare.HostConfig).toMatchObject({
      Memory: DEFAULT_RUNNER_LIMITS.memoryBytes,
      MemorySwap: DEFAULT_RUNNER_LIMITS.memoryBytes,
      PidsLimit: DEFAULT_RUNNER_LIMITS.pids,
    });
    expect(bare.HostConfig?.NanoCpus).toBeUndefined();
  });

  it("mounts named volumes and opted-in host paths with their read-only flags", () => {
    const cached = pool({
      name: "c",
      labels: ["self-hosted"],
      allowHostPaths: true,
      volumes: [
        { source: "toolcache", target: "/opt/hostedtoolcache", readOnly: true },
        { source: "/srv/npm", target: "/home/runner/.npm" },
      ],
    });
    expect(runnerContainerSpec({ ...base, pool: cached }).HostConfig?.Mounts).toEqual([
      { Type: "volume", Source: "toolcache", Target: "/opt/hostedtoolcache", ReadOnly: true },
      { Type: "bind", Source: "/srv/npm", Target: "/home/runner/.npm", ReadOnly: false },
    ]);
  });

  it("shares the host network only for a pool that opted in", () => {
    const host = pool({ name: "h", labels: ["self-hosted"], network: "host", allowHostNetwork: true });
    expect(runnerContainerSpec({ ...base, pool: host }).HostConfig?.NetworkMode).toBe("host");
    expect(() => pool({ name: "h", labels: ["self-hosted"], network: "host" })).toThrow(/allowHostNetwork/);
  });

  it("lets the registration env win over a pool env of the same name", () => {
    const sneaky = pool({ name: "s", labels: ["self-hosted"], env: { ACTIONS_RUNNER_INPUT_JITCONFIG: "mine" } });
    expect(runnerContainerSpec({ ...base, pool: sneaky }).Env).toEqual(["ACTIONS_RUNNER_INPUT_JITCONFIG=ZW5jb2RlZA=="]);
  });

  it("grants Docker-in-Docker and GPUs only when the pool asks", () => {
    const dind = runnerContainerSpec({
      ...base,
      pool: pool({ name: "d", labels: ["self-hosted"], dockerInDocker: true, gpus: true }),
    });
    expect(dind.HostConfig?.Privileged).toBe(true);
    expect(dind.HostConfig?.DeviceRequests).toEqual([{ Driver: "", Count: -1, Capabilities: [["gpu"]] }]);
  });
});
