import type { Redis } from "ioredis";
import { RedisKeys } from "./keys.js";
import { defineScripts } from "./scripts/index.js";

/** What every Redis store is made with: the client, its scripts defined, and the key layout. */
export interface StoreContext {
  redis: Redis;
  keys: RedisKeys;
}

export function storeContext(redis: Redis, prefix: string): StoreContext {
  return { redis: defineScripts(redis), keys: new RedisKeys(prefix) };
}
