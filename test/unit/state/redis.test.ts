import { describe, expect, it } from "vitest";
import { reconnectOnReadOnly, redisOptions } from "../../../src/state/redis.js";

const sentinel = {
  kind: "sentinel" as const,
  sentinels: [{ host: "127.0.0.1", port: 26379 }],
  name: "main",
  password: "data",
  username: undefined,
  sentinelPassword: "watch",
  db: 2,
};

describe("redisOptions", () => {
  it("gives ioredis the Sentinels, the primary's name, both passwords and the database", () => {
    expect(redisOptions(sentinel, () => true)).toMatchObject({
      sentinels: [{ host: "127.0.0.1", port: 26379 }],
      name: "main",
      password: "data",
      sentinelPassword: "watch",
      db: 2,
      maxRetriesPerRequest: null,
    });
  });

  it("gives up on unreachable Sentinels at start-up, and retries them once started", () => {
    let started = false;
    const options = redisOptions(sentinel, () => started);
    expect(options.sentinelRetryStrategy?.(1)).toBeNull();
    started = true;
    expect(options.sentinelRetryStrategy?.(1)).toBeGreaterThan(0);
  });

  it("retries a command refused by a demoted primary on a fresh connection, and nothing else", () => {
    for (const target of [sentinel, { kind: "url" as const, url: "redis://r", password: undefined }]) {
      const retry = redisOptions(target, () => true).reconnectOnError;
      expect(retry).toBe(reconnectOnReadOnly);
    }
    expect(reconnectOnReadOnly(new Error("READONLY You can't write against a read only replica."))).toBe(2);
    expect(reconnectOnReadOnly(new Error("NOSCRIPT No matching script."))).toBe(false);
    expect(reconnectOnReadOnly(new Error("ERR wrong number of arguments"))).toBe(false);
  });
});
