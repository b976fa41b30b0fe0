import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../../src/observability/logger.js";
import { startEmbeddedRedis } from "../../../src/state/embedded-redis.js";
import { waitFor } from "../../sim/github-simulator.js";
import { redisServersIn } from "../../support/redis-server.js";

/** The embedded redis-server's start-up when something is wrong: it never hangs, and says why. */
const log = createLogger("silent");
const BOUND_MS = 2_000;
const started: number[] = [];

/** A fresh data folder and the redis subfolder the embedded server works in. */
function dataFolder(): { dataDir: string; redisDir: string } {
  const dataDir = mkdtempSync(path.join(tmpdir(), "rh-embedded-int-"));
  const redisDir = path.join(dataDir, "redis");
  mkdirSync(redisDir);
  return { dataDir, redisDir: realpathSync(redisDir) };
}

afterEach(() => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, "SIGCONT");
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
});

describe("the embedded redis-server", () => {
  it("keeps its data across a close and a new start, and leaves no server behind", async () => {
    const { dataDir, redisDir } = dataFolder();
    const first = await startEmbeddedRedis(dataDir, log);
    await first.client.set("kept", "yes");
    await first.close();
    expect(redisServersIn(redisDir)).toEqual([]);

    const second = await startEmbeddedRedis(dataDir, log);
    try {
      expect(await second.client.get("kept")).toBe("yes");
      expect(redisServersIn(redisDir)).toHaveLength(1);
    } finally {
      await second.close();
    }
  });

  it("fails with redis-server's own words when it cannot start (a damaged append-only file)", async () => {
    const { dataDir, redisDir } = dataFolder();
    mkdirSync(path.join(redisDir, "appendonlydir"));
    writeFileSync(path.join(redisDir, "appendonlydir", "appendonly.aof.manifest"), "garbage\n");
    const error = await startEmbeddedRedis(dataDir, log, BOUND_MS).then(
      () => undefined,
      (failure: unknown) => failure as Error,
    );
    expect(error?.message).toMatch(/stopped \(exit code 1\) before it answered/);
    expect(error?.message).toContain(`data folder ${redisDir}`);
    expect(error?.message).toMatch(/Invalid AOF manifest file format/);
    expect(error?.message).toMatch(/redis-check-aof --fix/);
    expect(redisServersIn(redisDir)).toEqual([]);
  });

  it("does not start a second server beside a left-over one that stopped answering", async () => {
    const { dataDir, redisDir } = dataFolder();
    const socket = path.join(redisDir, "redis.sock");
    const leftover = spawn(
      "redis-server",
      [
        "--port",
        "0",
        "--unixsocket",
        socket,
        "--dir",
        redisDir,
        "--pidfile",
        path.join(redisDir, "redis.pid"),
        "--appendonly",
        "yes",
        "--save",
        "",
      ],
      { detached: true, stdio: "ignore" },
    );
    leftover.unref();
    const pid = leftover.pid ?? 0;
    started.push(pid);
    const probe = new Redis({ path: socket, maxRetriesPerRequest: 1 });
    probe.on("error", () => undefined);
    await waitFor(() => probe.ping(), { timeoutMs: 10_000, what: "the left-over redis-server to answer" });
    probe.disconnect();
    // Stopped (a hung host, a debugger): it holds the append-only file but answers nothing.
    process.kill(pid, "SIGSTOP");

    await expect(startEmbeddedRedis(dataDir, log, BOUND_MS)).rejects.toThrow(
      new RegExp(`a redis-server \\(pid ${pid}\\) left running on the data folder .* neither stopped nor answered`),
    );
    expect(redisServersIn(redisDir)).toEqual([pid]);
  });
});
