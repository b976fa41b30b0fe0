import type { Readable } from "node:stream";
import Docker from "dockerode";
import type { DockerTarget } from "../config/load.js";
import { LABELS } from "./labels.js";
import { demuxLogBuffer, demuxLogStream } from "./logs.js";
import { httpStatusOf } from "../errors.js";

/** Docker's container states (`docker ps --format {{.State}}`). */
export type ContainerState = "created" | "running" | "paused" | "restarting" | "removing" | "exited" | "dead";

export interface ManagedContainer {
  id: string;
  name: string;
  state: ContainerState;
  labels: Record<string, string>;
  createdAt: number;
}

export interface ContainerExit {
  exitCode: number;
  oomKilled: boolean;
  error: string | undefined;
  /** Created but never started (its worker died in between, or start failed). */
  neverStarted: boolean;
  /** The container's memory limit; an OOM-killed container used all of it. */
  memoryLimitBytes: number | undefined;
}

/** Where a container is in its life, as far as clean-up is concerned. */
export type ContainerStatus = { kind: "alive" } | { kind: "ended"; exit: ContainerExit } | { kind: "missing" };

/** A container in these states has ended and will not run again (no restart policy). */
export function hasEnded(state: ContainerState): boolean {
  return state === "exited" || state === "dead";
}

export interface ContainerEvent {
  action: string;
  containerId: string;
  labels: Record<string, string>;
  /** Event time in nanoseconds, for resuming a stream with `since`. */
  timeNano: number;
}

/** One reading of a container's resource use. */
export interface ContainerUsage {
  memoryBytes: number;
  /** The most the container used so far where the engine knows it (cgroup v1), else memoryBytes. */
  peakMemoryBytes: number;
  /** CPU time used since the container started. */
  cpuSeconds: number;
}

/** A container's output as it is written; close() stops following early. */
export interface LogFollow {
  stream: Readable;
  close(): void;
}

/** The Docker calls runnerhub makes against one engine. */
export interface ContainerEngine {
  readonly name: string;
  ping(): Promise<void>;
  /** Creates and starts a container; a container that fails to start is removed again. */
  startContainer(spec: Docker.ContainerCreateOptions): Promise<string>;
  listManaged(): Promise<ManagedContainer[]>;
  status(containerId: string): Promise<ContainerStatus>;
  isRunning(containerId: string): Promise<boolean>;
  stop(containerId: string, graceSeconds: number): Promise<void>;
  remove(containerId: string): Promise<void>;
  /** Streams lifecycle events of managed containers until the returned function is called. */
  watch(
    since: number | undefined,
    onEvent: (event: ContainerEvent) => void,
    onEnd: (error: Error | undefined) => void,
  ): Promise<() => void>;
  /** The container's environment (NAME=value); undefined when it is gone. */
  environment(containerId: string): Promise<string[] | undefined>;
  /** The last tailLines lines the container wrote (stdout and stderr); undefined when it is gone. */
  logTail(containerId: string, tailLines: number): Promise<string | undefined>;
  /** Follows the container's output from its last tailLines lines until the container ends. */
  followLogs(containerId: string, tailLines: number): Promise<LogFollow>;
  /** One reading of the container's resource use; undefined when it is not running. */
  usage(containerId: string): Promise<ContainerUsage | undefined>;
}

async function ignoreMissing(call: Promise<unknown>, alsoIgnore: number[] = []): Promise<void> {
  try {
    await call;
  } catch (error) {
    const status = httpStatusOf(error);
    if (status === 404 || (status !== undefined && alsoIgnore.includes(status))) return;
    throw error;
  }
}

export function connectDocker(target: DockerTarget): Docker {
  return target.socketPath
    ? new Docker({ socketPath: target.socketPath })
    : new Docker({ host: target.host, port: target.port, protocol: target.protocol });
}

const MANAGED_FILTER = { label: [`${LABELS.managed}=true`] };

export function createContainerEngine(name: string, docker: Docker): ContainerEngine {
  return {
    name,

    async ping() {
      await docker.ping();
    },

    async startContainer(spec) {
      const container = await docker.createContainer(spec);
      try {
        await container.start();
      } catch (error) {
        await ignoreMissing(container.remove({ force: true }));
        throw error;
      }
      return container.id;
    },

    async listManaged() {
      const containers = await docker.listContainers({ all: true, filters: MANAGED_FILTER });
      return containers.map((info) => ({
        id: info.Id,
        name: (info.Names[0] ?? "").replace(/^\//, ""),
        state: info.State as ContainerState,
        labels: info.Labels,
        createdAt: info.Created * 1000,
      }));
    },

    async status(containerId) {
      try {
        const { State, HostConfig } = await docker.getContainer(containerId).inspect();
        if (State.Running || State.Restarting || State.Paused) return { kind: "alive" };
        const exit = {
          exitCode: State.ExitCode,
          oomKilled: State.OOMKilled,
          error: State.Error || undefined,
          neverStarted: State.Status === "created",
          memoryLimitBytes: HostConfig.Memory || undefined,
        };
        return { kind: "ended", exit };
      } catch (error) {
        if (httpStatusOf(error) === 404) return { kind: "missing" };
        throw error;
      }
    },

    async isRunning(containerId) {
      return (await this.status(containerId)).kind === "alive";
    },

    async stop(containerId, graceSeconds) {
      // 304: already stopped.
      await ignoreMissing(docker.getContainer(containerId).stop({ t: graceSeconds }), [304]);
    },

    async remove(containerId) {
      // 409: removal already in progress.
      await ignoreMissing(docker.getContainer(containerId).remove({ force: true, v: true }), [409]);
    },

    async watch(since, onEvent, onEnd) {
      const stream = (await docker.getEvents({
        since: since === undefined ? undefined : Math.floor(since / 1e9),
        filters: { type: ["container"], event: ["die", "oom", "destroy", "health_status"], ...MANAGED_FILTER },
      })) as NodeJS.ReadableStream & { destroy(): void };
      let buffered = "";
      let ended = false;
      const finish = (error: Error | undefined) => {
        if (ended) return;
        ended = true;
        onEnd(error);
      };
      stream.on("data", (chunk: Buffer) => {
        buffered += chunk.toString("utf8");
        let newline = buffered.indexOf("\n");
        while (newline >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          newline = buffered.indexOf("\n");
          if (!line) continue;
          const event = JSON.parse(line) as {
            Action: string;
            Actor: { ID: string; Attributes: Record<string, string> };
            timeNano: number;
          };
          onEvent({
            action: event.Action,
            containerId: event.Actor.ID,
            labels: event.Actor.Attributes,
            timeNano: event.timeNano,
          });
        }
      });
      stream.on("error", (error: Error) => finish(error));
      stream.on("end", () => finish(undefined));
      stream.on("close", () => finish(undefined));
      return () => {
        ended = true;
        stream.destroy();
      };
    },

    async environment(containerId) {
      try {
        return (await docker.getContainer(containerId).inspect()).Config.Env ?? [];
      } catch (error) {
        if (httpStatusOf(error) === 404) return undefined;
        throw error;
      }
    },

    async logTail(containerId, tailLines) {
      try {
        const buffer = await docker.getContainer(containerId).logs({ stdout: true, stderr: true, tail: tailLines });
        return demuxLogBuffer(buffer);
      } catch (error) {
        if (httpStatusOf(error) === 404) return undefined;
        throw error;
      }
    },

    async followLogs(containerId, tailLines) {
      const raw = (await docker
        .getContainer(containerId)
        .logs({ stdout: true, stderr: true, tail: tailLines, follow: true })) as Readable;
      const stream = raw.pipe(demuxLogStream());
      raw.on("end", () => stream.end());
      raw.on("error", (error) => stream.destroy(error));
      return {
        stream,
        close() {
          raw.destroy();
          stream.end();
        },
      };
    },

    async usage(containerId) {
      let stats: Docker.ContainerStats;
      try {
        // one-shot: answer at once instead of waiting a second for a second sample.
        stats = await docker.getContainer(containerId).stats({ stream: false, "one-shot": true });
      } catch (error) {
        if (httpStatusOf(error) === 404) return undefined;
        throw error;
      }
      const memory = stats.memory_stats as { usage?: number; max_usage?: number } | undefined;
      const cpuNanos = stats.cpu_stats?.cpu_usage?.total_usage ?? 0;
      // A stopped container answers with empty figures.
      if (memory?.usage === undefined && cpuNanos === 0) return undefined;
      const memoryBytes = memory?.usage ?? 0;
      return {
        memoryBytes,
        peakMemoryBytes: Math.max(memoryBytes, memory?.max_usage ?? 0),
        cpuSeconds: cpuNanos / 1e9,
      };
    },
  };
}
