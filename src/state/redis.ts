import { Redis } from "ioredis";
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

export async function connected(client: Redis, where: string): Promise<void> {
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
