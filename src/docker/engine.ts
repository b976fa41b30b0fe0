import type { Readable } from "node:stream";
import Docker from "dockerode";
import { describeConnection, type DockerConnection } from "../config/docker-host.js";
import type { DockerTarget } from "../config/load.js";
import { LABELS } from "./labels.js";
import { demuxLogBuffer, demuxLogStream } from "./logs.js";
import { sshDialAgent } from "./ssh.js";
import { httpStatusOf } from "../http/error-status.js";
import { EVENT_STREAM_CHECK_MS } from "../tunables.js";

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
  /** Whether the engine answers, within timeoutMs (the call timeout when not given). */
  ping(timeoutMs?: number): Promise<void>;
  /**
   * What tells this engine from another given the same name: Docker's engine ID (from the host's
   * key file, which two daemons on one host share) and the data root (which they do not).
   */
  identity(): Promise<string>;
  /** The engine's memory (bytes) and CPUs, as `docker info` reports them. */
  hardware(): Promise<{ memoryBytes: number; cpus: number }>;
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

/** A Docker call that got no answer in time: the engine is hung or unreachable. */
export class EngineTimeoutError extends Error {
  constructor(
    readonly engine: string,
    readonly call: string,
    readonly timeoutMs: number,
  ) {
    super(`Docker engine ${engine} did not answer ${call} within ${timeoutMs} ms`);
    this.name = "EngineTimeoutError";
  }
}

/**
 * Runs one request/response Docker call with a deadline. At the deadline the HTTP request is
 * aborted (so a hung engine does not keep the socket) and the call fails with EngineTimeoutError,
 * even if the transport ignores the abort. Also used by the image calls (images.ts).
 */
export async function withDeadline<T>(
  engine: string,
  call: string,
  timeoutMs: number,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new EngineTimeoutError(engine, call, timeoutMs));
    }, timeoutMs);
  });
  try {
    return await Promise.race([run(controller.signal), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** How to run the ssh client for ssh:// engines; `command` lets tests stand in for ssh. */
export interface SshClientOptions {
  connectTimeoutMs: number;
  command?: string;
}

/**
 * A dockerode client for the connection. Every option is given, so docker-modem's own reading of
 * DOCKER_HOST / DOCKER_CERT_PATH from the environment never decides anything.
 */
export function connectDocker(connection: DockerConnection, ssh: SshClientOptions): Docker {
  switch (connection.kind) {
    case "unix":
      return new Docker({ socketPath: connection.socketPath });
    case "tcp": {
      const { host, port, tls } = connection;
      return tls
        ? new Docker({ host, port, protocol: "https", ca: tls.ca, cert: tls.cert, key: tls.key })
        : new Docker({ host, port, protocol: "http" });
    }
    case "ssh":
      // The host in the URL is only a label: the agent's ssh session is the connection.
      return new Docker({
        host: "docker",
        port: 80,
        protocol: "http",
        agent: sshDialAgent(connection, describeConnection(connection), ssh.connectTimeoutMs, ssh.command),
      });
  }
}

/** ping and info take an abort signal at run time; @types/dockerode declares only their callback form. */
interface AbortableCalls {
  ping(options: { abortSignal: AbortSignal }): Promise<unknown>;
  info(options: {
    abortSignal: AbortSignal;
  }): Promise<{ Name: string; ID: string; DockerRootDir: string; MemTotal: number; NCPU: number }>;
}
const abortable = (docker: Docker) => docker as unknown as AbortableCalls;

/** Docker's answer to plain HTTP on a TLS port (`dockerd --tlsverify`). */
const TLS_PORT_ANSWER = /Client sent an HTTP request to an HTTPS server/i;

/**
 * Connects to the configured engine and learns its name; fails with what to fix when the engine
 * does not answer within the call timeout or speaks TLS to a plain client.
 */
export async function connectEngine(target: DockerTarget): Promise<ContainerEngine> {
  const where = describeConnection(target.connection);
  const docker = connectDocker(target.connection, { connectTimeoutMs: target.callTimeoutMs });
  try {
    const label = target.name ?? where;
    await withDeadline(label, "/_ping", target.callTimeoutMs, (abortSignal) => abortable(docker).ping({ abortSignal }));
    const name =
      target.name ??
      (
        await withDeadline(label, "/info", target.callTimeoutMs, (abortSignal) =>
          abortable(docker).info({ abortSignal }),
        )
      ).Name;
    return createContainerEngine(name, docker, { callTimeoutMs: target.callTimeoutMs });
  } catch (error) {
    const message = (error as Error).message;
    const fix = TLS_PORT_ANSWER.test(message)
      ? "the engine speaks TLS: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH (a folder with ca.pem, cert.pem, key.pem)"
      : "start Docker or fix DOCKER_HOST";
    throw new Error(`Docker engine at ${where} is not reachable (${message.trim()}); ${fix}`, { cause: error });
  }
}

export interface EngineOptions {
  /** Deadline of each request/response call (stop adds the grace it asks Docker for). */
  callTimeoutMs: number;
  /** How often an open stream (events, logs) checks, with a ping, that the engine still answers. */
  streamCheckMs?: number;
}

const MANAGED_FILTER = { label: [`${LABELS.managed}=true`] };

/** One engine's Docker client, each call bounded by the call deadline, and open streams checked with pings. */
interface EngineCalls {
  docker: Docker;
  bounded: <T>(call: string, run: (abortSignal: AbortSignal) => Promise<T>, timeoutMs?: number) => Promise<T>;
  /** Pings the engine every streamCheckMs while a stream is open; returns the function that stops. */
  checkWhileOpen: (what: string, onDead: (error: Error) => void) => () => void;
}

/** Creates and starts a container; one that fails to start is removed again. */
async function startManagedContainer(calls: EngineCalls, spec: Docker.ContainerCreateOptions): Promise<string> {
  const container = await calls.bounded("container create", (abortSignal) =>
    calls.docker.createContainer({ ...spec, abortSignal }),
  );
  try {
    await calls.bounded("container start", (abortSignal) => container.start({ abortSignal }));
  } catch (error) {
    // A start that timed out may still happen; removing by force covers both.
    await ignoreMissing(
      calls.bounded("container remove", (abortSignal) => container.remove({ force: true, abortSignal })),
    );
    throw error;
  }
  return container.id;
}

async function containerStatus(calls: EngineCalls, containerId: string): Promise<ContainerStatus> {
  try {
    const { State, HostConfig } = await calls.bounded("container inspect", (abortSignal) =>
      calls.docker.getContainer(containerId).inspect({ abortSignal }),
    );
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
}

/**
 * Follows the engine's events for managed containers from `since` (ns). Opening the stream is
 * bounded like any call; the open stream is quiet while nothing happens, so it is checked with pings.
 */
async function watchEvents(
  calls: EngineCalls,
  since: number | undefined,
  onEvent: (event: ContainerEvent) => void,
  onEnd: (error: Error | undefined) => void,
): Promise<() => void> {
  const stream = (await calls.bounded("event stream", (abortSignal) =>
    calls.docker.getEvents({
      since: since === undefined ? undefined : Math.floor(since / 1e9),
      filters: { type: ["container"], event: ["die", "oom", "destroy", "health_status"], ...MANAGED_FILTER },
      abortSignal,
    }),
  )) as NodeJS.ReadableStream & { destroy(): void };
  let buffered = "";
  let ended = false;
  const stopChecking = calls.checkWhileOpen("event stream", (error) => {
    stream.destroy();
    finish(error);
  });
  const finish = (error: Error | undefined) => {
    stopChecking();
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
    stopChecking();
    ended = true;
    stream.destroy();
  };
}

async function followContainerLogs(calls: EngineCalls, containerId: string, tailLines: number): Promise<LogFollow> {
  // Opening is bounded; the open stream is checked with pings (a quiet runner writes nothing for a while).
  const raw = (await calls.bounded("container logs", (abortSignal) =>
    calls.docker
      .getContainer(containerId)
      .logs({ stdout: true, stderr: true, tail: tailLines, follow: true, abortSignal }),
  )) as Readable;
  const stopChecking = calls.checkWhileOpen("log stream", (error) => raw.destroy(error));
  raw.once("close", stopChecking);
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
}

async function containerUsage(calls: EngineCalls, containerId: string): Promise<ContainerUsage | undefined> {
  let stats: Docker.ContainerStats;
  try {
    // one-shot: answer at once instead of waiting a second for a second sample.
    stats = await calls.bounded("container stats", (abortSignal) => {
      // A variable, not a literal: @types/dockerode does not declare abortSignal for stats.
      const request = { stream: false as const, "one-shot": true, abortSignal };
      return calls.docker.getContainer(containerId).stats(request);
    });
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
}

export function createContainerEngine(name: string, docker: Docker, options: EngineOptions): ContainerEngine {
  const { callTimeoutMs } = options;
  const bounded = <T>(call: string, run: (abortSignal: AbortSignal) => Promise<T>, timeoutMs = callTimeoutMs) =>
    withDeadline(name, call, timeoutMs, run);
  const ping = (timeoutMs = callTimeoutMs) =>
    bounded("/_ping", (abortSignal) => abortable(docker).ping({ abortSignal }), timeoutMs);
  /**
   * Streams have no deadline, but an open one is checked with a ping every streamCheckMs: an
   * engine that stops answering ends it with an error. Returns the function that stops the checks.
   */
  const checkWhileOpen = (what: string, onDead: (error: Error) => void): (() => void) => {
    const timer = setInterval(() => {
      ping().catch((error: unknown) => {
        clearInterval(timer);
        onDead(new Error(`${what} dropped: ${(error as Error).message}`, { cause: error }));
      });
    }, options.streamCheckMs ?? EVENT_STREAM_CHECK_MS);
    return () => clearInterval(timer);
  };

  const calls: EngineCalls = { docker, bounded, checkWhileOpen };

  return {
    name,

    async ping(timeoutMs) {
      await ping(timeoutMs);
    },

    async identity() {
      const info = await bounded("/info", (abortSignal) => abortable(docker).info({ abortSignal }));
      return `${info.ID}@${info.DockerRootDir}`;
    },

    async hardware() {
      const info = await bounded("/info", (abortSignal) => abortable(docker).info({ abortSignal }));
      return { memoryBytes: info.MemTotal, cpus: info.NCPU };
    },

    startContainer: (spec) => startManagedContainer(calls, spec),

    async listManaged() {
      const containers = await bounded("container list", (abortSignal) =>
        docker.listContainers({ all: true, filters: MANAGED_FILTER, abortSignal }),
      );
      return containers.map((info) => ({
        id: info.Id,
        name: (info.Names[0] ?? "").replace(/^\//, ""),
        state: info.State as ContainerState,
        labels: info.Labels,
        createdAt: info.Created * 1000,
      }));
    },

    status: (containerId) => containerStatus(calls, containerId),

    async isRunning(containerId) {
      return (await this.status(containerId)).kind === "alive";
    },

    async stop(containerId, graceSeconds) {
      // Docker answers once the container is down: the grace it was given, then the kill. 304: already stopped.
      await ignoreMissing(
        bounded(
          "container stop",
          (abortSignal) => docker.getContainer(containerId).stop({ t: graceSeconds, abortSignal }),
          graceSeconds * 1000 + callTimeoutMs,
        ),
        [304],
      );
    },

    async remove(containerId) {
      // 409: removal already in progress.
      await ignoreMissing(
        bounded("container remove", (abortSignal) =>
          docker.getContainer(containerId).remove({ force: true, v: true, abortSignal }),
        ),
        [409],
      );
    },

    watch: (since, onEvent, onEnd) => watchEvents(calls, since, onEvent, onEnd),

    async environment(containerId) {
      try {
        const info = await bounded("container inspect", (abortSignal) =>
          docker.getContainer(containerId).inspect({ abortSignal }),
        );
        return info.Config.Env ?? [];
      } catch (error) {
        if (httpStatusOf(error) === 404) return undefined;
        throw error;
      }
    },

    followLogs: (containerId, tailLines) => followContainerLogs(calls, containerId, tailLines),

    async logTail(containerId, tailLines) {
      try {
        const buffer = await bounded("container logs", (abortSignal) =>
          docker.getContainer(containerId).logs({ stdout: true, stderr: true, tail: tailLines, abortSignal }),
        );
        return demuxLogBuffer(buffer);
      } catch (error) {
        if (httpStatusOf(error) === 404) return undefined;
        throw error;
      }
    },

    usage: (containerId) => containerUsage(calls, containerId),
  };
}
