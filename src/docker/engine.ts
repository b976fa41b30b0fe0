import Docker from "dockerode";
import type { DockerTarget } from "../config/load.js";
import { LABELS } from "./labels.js";
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
        const { State } = await docker.getContainer(containerId).inspect();
        if (State.Running || State.Restarting || State.Paused) return { kind: "alive" };
        const exit = {
          exitCode: State.ExitCode,
          oomKilled: State.OOMKilled,
          error: State.Error || undefined,
          neverStarted: State.Status === "created",
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
  };
}
