import { describe, expect, it } from "vitest";
import { describeRedisTarget, parseRedisTarget, type RedisEnv } from "../../../src/state/redis-target.js";

function problems(env: RedisEnv): string[] {
  const result = parseRedisTarget(env);
  if (result.ok) throw new Error(`expected problems, got ${JSON.stringify(result.target)}`);
  return result.problems;
}

describe("parseRedisTarget", () => {
  it("is the embedded Redis when nothing is set, and one server for a redis:// URL", () => {
    expect(parseRedisTarget({})).toEqual({ ok: true, target: undefined });
    expect(parseRedisTarget({ REDIS_URL: "redis://r:6379/2" })).toEqual({
      ok: true,
      target: { kind: "url", url: "redis://r:6379/2", password: undefined },
    });
    expect(parseRedisTarget({ REDIS_URL: "rediss://r:6380", REDIS_PASSWORD: "pw" })).toMatchObject({
      target: { kind: "url", password: "pw" },
    });
  });

  it("reads REDIS_SENTINELS with REDIS_SENTINEL_NAME and both passwords, 26379 when no port is given", () => {
    expect(
      parseRedisTarget({
        REDIS_SENTINELS: "127.0.0.1:26380, s2 ,[::1]:26381",
        REDIS_SENTINEL_NAME: "main",
        REDIS_PASSWORD: "data-pw",
        REDIS_SENTINEL_PASSWORD: "sentinel-pw",
      }),
    ).toEqual({
      ok: true,
      target: {
        kind: "sentinel",
        sentinels: [
          { host: "127.0.0.1", port: 26380 },
          { host: "s2", port: 26379 },
          { host: "::1", port: 26381 },
        ],
        name: "main",
        password: "data-pw",
        username: undefined,
        sentinelPassword: "sentinel-pw",
        db: 0,
      },
    });
  });

  it("reads a redis+sentinel:// URL with user, password and database", () => {
    expect(
      parseRedisTarget({
        REDIS_URL: "redis+sentinel://app:p%40ss@127.0.0.1:26379,127.0.0.1:26380/main/3",
        REDIS_SENTINEL_PASSWORD: "s",
      }),
    ).toEqual({
      ok: true,
      target: {
        kind: "sentinel",
        sentinels: [
          { host: "127.0.0.1", port: 26379 },
          { host: "127.0.0.1", port: 26380 },
        ],
        name: "main",
        password: "p@ss",
        username: "app",
        sentinelPassword: "s",
        db: 3,
      },
    });
    expect(parseRedisTarget({ REDIS_URL: "redis+sentinel://:pw@h1,h2/main" })).toMatchObject({
      target: { password: "pw", username: undefined, db: 0, sentinels: [{ port: 26379 }, { port: 26379 }] },
    });
  });

  it("names the variable of each mistake", () => {
    expect(problems({ REDIS_SENTINELS: "h1:26379" })[0]).toMatch(/^REDIS_SENTINEL_NAME: required with REDIS_SENTINELS/);
    expect(problems({ REDIS_SENTINEL_NAME: "main" })[0]).toMatch(/^REDIS_SENTINEL_NAME: set REDIS_SENTINELS too/);
    expect(problems({ REDIS_SENTINELS: "h1:99999", REDIS_SENTINEL_NAME: "main" })[0]).toMatch(
      /^REDIS_SENTINELS: "h1:99999" is not a Sentinel address/,
    );
    expect(problems({ REDIS_SENTINELS: "h1:1,", REDIS_SENTINEL_NAME: "main" })[0]).toMatch(/^REDIS_SENTINELS: ""/);
    expect(problems({ REDIS_SENTINELS: "h1", REDIS_SENTINEL_NAME: "a b" })[0]).toMatch(/^REDIS_SENTINEL_NAME: "a b"/);
    expect(problems({ REDIS_SENTINELS: "h1", REDIS_SENTINEL_NAME: "m", REDIS_URL: "redis://r" })[0]).toMatch(
      /^REDIS_SENTINELS: REDIS_URL is set too/,
    );
    expect(problems({ REDIS_URL: "redis+sentinel://h1/main", REDIS_SENTINEL_NAME: "main" })[0]).toMatch(
      /^REDIS_SENTINELS \/ REDIS_SENTINEL_NAME: REDIS_URL names/,
    );
    expect(problems({ REDIS_URL: "redis+sentinel://h1:26379" })[0]).toMatch(/^REDIS_URL: a Sentinel URL reads/);
    expect(problems({ REDIS_SENTINEL_PASSWORD: "s" })[0]).toMatch(/^REDIS_SENTINEL_PASSWORD: applies to Sentinel only/);
    expect(problems({ REDIS_PASSWORD: "s" })[0]).toMatch(/^REDIS_PASSWORD: the embedded Redis takes no password/);
    expect(problems({ REDIS_URL: "redis://:a@r", REDIS_PASSWORD: "b" })[0]).toMatch(
      /^REDIS_PASSWORD: REDIS_URL carries/,
    );
    expect(problems({ REDIS_URL: "redis+sentinel://:a@h1/m", REDIS_PASSWORD: "b" })[0]).toMatch(/^REDIS_PASSWORD:/);
  });

  it("never quotes a password in a problem", () => {
    const all = [
      ...problems({ REDIS_URL: "redis+sentinel://:secret-1@h1:99999/main" }),
      ...problems({ REDIS_URL: "redis://:secret-1@r", REDIS_PASSWORD: "secret-2" }),
      ...problems({ REDIS_SENTINEL_PASSWORD: "secret-3" }),
    ];
    expect(all.join("\n")).not.toMatch(/secret-/);
  });
});

describe("describeRedisTarget", () => {
  it("shows where without any password", () => {
    const sentinel = parseRedisTarget({ REDIS_URL: "redis+sentinel://:secret@h1:1,[::1]:2/main/4" });
    const url = parseRedisTarget({ REDIS_URL: "redis://:secret@r:6379/0" });
    if (!sentinel.ok || !sentinel.target || !url.ok || !url.target) throw new Error("expected targets");
    expect(describeRedisTarget(sentinel.target)).toBe("redis+sentinel://h1:1,[::1]:2/main/4");
    expect(describeRedisTarget(url.target)).toBe("redis://:***@r:6379/0");
  });
});
