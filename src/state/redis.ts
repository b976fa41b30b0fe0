import { Redis, type RedisOptions } from "ioredis";
import { describeRedisTarget, type RedisTarget } from "./redis-target.js";
import { REDIS_RECONNECT_MAX_DELAY_MS, REDIS_RECONNECT_STEP_MS } from "../tunables.js";

export interface RedisHandle {
  client: Redis;
  /** Where the client connects, without credentials, for logs. */
  describe: string;
  close(): Promise<void>;
}

export function clientOptions() {
  // BullMQ needs commands to wait for a reconnect rather than fail after a few retries.
  return { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: true } as const;
}

/**
 * The commands sent in one turn of the event loop leave in one socket write: the socket is corked
 * at the turn's first command and uncorked when the turn ends. A burst of webhooks otherwise costs
 * a write system call per command (two per webhook: the ledger script and BullMQ's add). ioredis'
 * own auto-pipelining does the same through a pipeline object per turn, which copies every script
 * defined on the connection, BullMQ's and runnerhub's (docs/benchmarks.md).
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

export async function connected(client: Redis, where: string, fix = "start Redis or fix REDIS_URL"): Promise<void> {
  coalesceWrites(client);
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    throw new Error(`Redis at ${where} is not reachable (${(error as Error).message}); ${fix}`, {
      cause: error,
    });
  }
}

const reconnectDelay = (times: number) => Math.min(times * REDIS_RECONNECT_STEP_MS, REDIS_RECONNECT_MAX_DELAY_MS);

/**
 * A primary demoted by a failover answers writes with READONLY until Sentinel has the clients
 * dropped; reconnecting (through the Sentinels, to the new primary) and sending the command again
 * (2) makes the failover invisible to the caller. Nothing else is worth a reconnect.
 */
export function reconnectOnReadOnly(error: Error): 2 | false {
  return error.message.startsWith("READONLY") ? 2 : false;
}

/**
 * ioredis options for a Redis of the user's (the embedded one is made in embedded-redis.ts).
 * Every other connection of the process is a duplicate of the client made with these (BullMQ's
 * workers and blocking reads), so each follows the primary the same way. `started` tells whether
 * the first connection succeeded: until then an unreachable set of Sentinels is an error at
 * start-up, not an endless retry.
 */
export function redisOptions(target: RedisTarget, started: () => boolean): RedisOptions {
  const common = { ...clientOptions(), retryStrategy: reconnectDelay, reconnectOnError: reconnectOnReadOnly };
  if (target.kind === "url")
    return { ...common, ...(target.password === undefined ? {} : { password: target.password }) };
  return {
    ...common,
    sentinels: target.sentinels,
    name: target.name,
    password: target.password,
    username: target.username,
    sentinelPassword: target.sentinelPassword,
    db: target.db,
    sentinelRetryStrategy: (times) => (started() ? reconnectDelay(times) : null),
  };
}

/** The server a client's socket is connected to now (host:port), for logs; undefined on a unix socket or between connections. */
export function serverAddress(client: Redis): string | undefined {
  const socket = client.stream as { remoteAddress?: string; remotePort?: number } | undefined;
  return socket?.remoteAddress === undefined ? undefined : `${socket.remoteAddress}:${socket.remotePort}`;
}

export async function connectRedis(target: RedisTarget): Promise<RedisHandle> {
  let started = false;
  const options = redisOptions(target, () => started);
  const client = target.kind === "url" ? new Redis(target.url, options) : new Redis(options);
  const describe = describeRedisTarget(target);
  // The first connection fails fast with a clear error; later drops are retried by the strategy.
  client.on("error", () => undefined);
  const fix =
    target.kind === "url"
      ? "start Redis or fix REDIS_URL"
      : `start the Sentinels, or fix REDIS_SENTINELS / REDIS_SENTINEL_NAME (Sentinels must monitor "${target.name}")`;
  await connected(client, describe, fix);
  started = true;
  return { client, describe, close: () => client.quit().then(() => undefined) };
}
