import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { defineScripts } from "./scripts/index.js";

/**
 * Runs work under a Redis lock (SET NX with a TTL, released only by its holder); undefined, with
 * nothing run, when another process holds it. The TTL bounds how long a crashed holder blocks.
 */
export async function underLock<T>(
  redis: Redis,
  key: string,
  ms: number,
  work: () => Promise<T>,
): Promise<T | undefined> {
  const token = randomUUID();
  if ((await redis.set(key, token, "PX", ms, "NX")) !== "OK") return undefined;
  try {
    return await work();
  } finally {
    await defineScripts(redis).runnerhubReleaseLock(key, token);
  }
}
