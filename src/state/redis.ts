import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import { REDIS_RECONNECT_MAX_DELAY_MS, REDIS_RECONNECT_STEP_MS } from "../tunables.js";

export interface RedisHandle {
  client: Redis;
  /** Where the client connects, without credentials, for logs. */
  describe: string;
  close(): Promise<void>;
}

function clientOptions() {
  // BullMQ needs commands to wait for a reconnect rather than fail after a few retries.
  return { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: true } as const;
}

/**
 * The commands sent in one turn of the event loop leave in one socket write: the socket is corked
 * at the turn's first command and uncorked when the turn ends. A burst of webhooks otherwise costs
 * a write system call per command (two per webhook: the ledger script and BullMQ's add), about a
 * fifth of the intake's CPU time in the profile in docs/benchmarks.md. ioredis' own
 * auto-pipelining does the same through a pipeline object per turn, which copies every script
 * defined on the connection (BullMQ's and runnerhub's, 80) and cost more than it saved.
 */
function coalesceWrites(client: Redis): void {
  const send = client.sendCommand.bind(client);
  let corked: Redis["stream"] | undefined;
  client.sendCommand = (command, stream) => {
    const socket = client.stream;
    if (stream === undefined && socket !== undefined && socket !== corked && socket.writable) {
      corked = socket;
      socket.cork();
      setImmediate(() => {
        corked = undefined;
        socket.uncork();
      });
    }
    return send(command, stream);
  };
}

async function connected(client: Redis, where: string): Promise<void> {
  coalesceWrites(client);
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    throw new Error(`Redis at ${where} is not reachable (${(error as Error).message}); start Redis or fix REDIS_URL`, {
      cause: error,
    });
  }
}

function redacted(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}

export async function connectRedis(url: string): Promise<RedisHandle> {
  const client = new Redis(url, {
    ...clientOptions(),
    retryStrategy: (times) => Math.min(times * REDIS_RECONNECT_STEP_MS, REDIS_RECONNECT_MAX_DELAY_MS),
  });
  const describe = redacted(url);
  // The first connection fails fast with a clear error; later drops are retried by the strategy.
  client.on("error", () => undefined);
  await connected(client, describe);
  return { client, describe, close: () => client.quit().then(() => undefined) };
}

/**
 * Without REDIS_URL, runnerhub runs its own redis-server on a unix socket under the data folder,
 * with an append-only file there so queues and runner records survive restarts.
 */
export async function startEmbeddedRedis(dataDir: string, log: Logger): Promise<RedisHandle> {
  const found = spawnSync("redis-server", ["--version"], { stdio: "ignore" });
  if (found.error) {
    throw new Error(
      "REDIS_URL is not set and no redis-server binary was found to start an embedded one; " +
        "install Redis (e.g. apt-get install redis-server) or set REDIS_URL=redis://host:6379",
    );
  }
  const dir = path.resolve(dataDir, "redis");
  mkdirSync(dir, { recursive: true });
  const socket = path.join(dir, "redis.sock");
  if (socket.length > 100) {
    throw new Error(
      `the data folder path is too long for a unix socket (${socket}); set RUNNERHUB_DATA_DIR to a shorter path or set REDIS_URL`,
    );
  }
  const child: ChildProcess = spawn(
    "redis-server",
    [
      "--port",
      "0",
      "--unixsocket",
      socket,
      "--unixsocketperm",
      "700",
      "--dir",
      dir,
      "--appendonly",
      "yes",
      "--save",
      "",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const output: string[] = [];
  const keep = (chunk: Buffer) => output.push(...chunk.toString("utf8").split("\n").filter(Boolean).slice(-20));
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);

  await new Promise<void>((resolve, reject) => {
    const onExit = (code: number | null) =>
      reject(new Error(`embedded redis-server exited with code ${code}: ${output.slice(-5).join(" | ")}`));
    child.once("exit", onExit);
    child.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString("utf8").includes("Ready to accept connections")) {
        child.off("exit", onExit);
        resolve();
      }
    });
  });
  // Never outlive this process, even when it exits without close() (a shutdown cut short).
  const killOnExit = () => child.kill("SIGTERM");
  process.once("exit", killOnExit);
  const client = new Redis({ path: socket, ...clientOptions() });
  client.on("error", () => undefined);
  await connected(client, socket);
  log.info({ socket, dataDir: dir }, "embedded redis-server started");
  return {
    client,
    describe: `unix:${socket}`,
    async close() {
      process.off("exit", killOnExit);
      await client.quit();
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
