import type Docker from "dockerode";
import { isHostPath, type Pool } from "../config/pools.js";
import { LABELS } from "./labels.js";

/** Enough for a runner to manage its own work folder; everything else is dropped. */
const MINIMAL_CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID"];

export interface RunnerIdentity {
  name: string;
  pool: Pool;
  /** Known up front with JIT configs; token-registered runners get theirs when they start. */
  runnerId: number | undefined;
  githubJobId: number;
  owner: string;
  /** The repository a repository runner registers with; undefined for an organization's runner. */
  repo?: string;
  installationId: number;
  /** Registration variables: ACTIONS_RUNNER_INPUT_JITCONFIG, or the RUNNER_TOKEN family. */
  registrationEnv: Record<string, string>;
}

export function runnerContainerSpec(runner: RunnerIdentity): Docker.ContainerCreateOptions {
  const { pool } = runner;
  const env = { ...pool.env, ...runner.registrationEnv };
  const hostConfig: Docker.HostConfig = {
    NetworkMode: pool.network,
    RestartPolicy: { Name: "no" },
    CapDrop: ["ALL"],
    CapAdd: MINIMAL_CAPABILITIES,
    SecurityOpt: ["no-new-privileges"],
    Memory: pool.resources.memory,
    // Equal to Memory: no swap on top, so the limit is the limit.
    MemorySwap: pool.resources.memory,
    PidsLimit: pool.resources.pids,
  };
  if (pool.resources.cpus !== undefined) hostConfig.NanoCpus = Math.round(pool.resources.cpus * 1e9);
  if (pool.volumes.length > 0) {
    hostConfig.Mounts = pool.volumes.map((volume) => ({
      Type: isHostPath(volume.source) ? "bind" : "volume",
      Source: volume.source,
      Target: volume.target,
      ReadOnly: volume.readOnly,
    }));
  }
  if (pool.dockerInDocker) {
    // Docker-in-Docker needs a privileged container; the pool option is the explicit opt-in.
    hostConfig.Privileged = true;
    hostConfig.CapDrop = [];
    hostConfig.CapAdd = [];
    hostConfig.SecurityOpt = [];
  }
  if (pool.gpus) hostConfig.DeviceRequests = [{ Driver: "", Count: -1, Capabilities: [["gpu"]] }];

  return {
    name: runner.name,
    Image: pool.image,
    Cmd: pool.command,
    Env: Object.entries(env).map(([key, value]) => `${key}=${value}`),
    Labels: {
      [LABELS.managed]: "true",
      [LABELS.pool]: pool.name,
      [LABELS.runnerName]: runner.name,
      [LABELS.runnerId]: runner.runnerId === undefined ? "" : String(runner.runnerId),
      [LABELS.githubJobId]: String(runner.githubJobId),
      [LABELS.owner]: runner.owner,
      [LABELS.installationId]: String(runner.installationId),
      [LABELS.repo]: runner.repo ?? "",
    },
    HostConfig: hostConfig,
  };
}
