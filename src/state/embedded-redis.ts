import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import {
  EMBEDDED_REDIS_OUTPUT_LINES,
  EMBEDDED_REDIS_POLL_MS,
  EMBEDDED_REDIS_PROBE_TIMEOUT_MS,
  EMBEDDED_REDIS_START_MS,
} from "../tunables.js";
import { clientOptions, connected, type RedisHandle } from "./redis.js";

/** Where the embedded redis-server of one data folder keeps what it keeps. */
interface Paths {
  /** The data folder's redis subfolder, resolved through symlinks (as /proc shows a process's cwd). */
  dir: string;
  socket: string;
  /** Written by redis-server itself (--pidfile) and removed by it when it shuts down. */
  pidFile: string;
}

/** What a data folder's socket says to one PING. */
type Probe =
  | { state: "ready"; pid: number }
  | { state: "loading" }
  | { state: "absent" }
  | { state: "silent" }
  | { state: "refused"; reason: string };

/** A connection for one question: no retries, no queueing, bounded in time. */
function probeClient(socket: string): Redis {
  const client = new Redis({
    path: socket,
    lazyConnect: true,
    enableReadyCheck: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: EMBEDDED_REDIS_PROBE_TIMEOUT_MS,
    commandTimeout: EMBEDDED_REDIS_PROBE_TIMEOUT_MS,
  });
  client.on("error", () => undefined);
  return client;
}

async function probe(socket: string): Promise<Probe> {
  const client = probeClient(socket);
  // A failed connect rejects with "Connection is closed."; the socket's own error says why.
  let socketError: NodeJS.ErrnoException | undefined;
  client.on("error", (error: NodeJS.ErrnoException) => (socketError = error));
  try {
    await client.connect();
    await client.ping();
    const pid = Number(/^process_id:(\d+)/m.exec(await client.info("server"))?.[1]);
    return { state: "ready", pid };
  } catch (error) {
    const { code, message } = socketError ?? (error as NodeJS.ErrnoException);
    if (code === "ENOENT" || code === "ECONNREFUSED") return { state: "absent" };
    if (message.startsWith("LOADING")) return { state: "loading" };
    if (message === "Command timed out") return { state: "silent" };
    return { state: "refused", reason: message };
  } finally {
    client.disconnect();
  }
}

/** Whether `pid` is a redis-server working in `dir` (Linux /proc; elsewhere the socket alone tells). */
function isRedisServerIn(pid: number, dir: string): boolean {
  try {
    return (
      readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "redis-server" && readlinkSync(`/proc/${pid}/cwd`) === dir
    );
  } catch {
    return false;
  }
}

/** The pid in redis-server's pidfile, when that process is still a redis-server on this folder. */
function pidFileServer(paths: Paths): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(paths.pidFile, "utf8").trim());
  } catch {
    return undefined;
  }
  return Number.isInteger(pid) && pid > 0 && isRedisServerIn(pid, paths.dir) ? pid : undefined;
}

/**
 * Holds the data folder for this process: a listening abstract unix socket named after the folder.
 * The kernel frees the name when the process dies, SIGKILL included, so unlike a pidfile it never
 * outlives its holder or names a reused pid. A second runnerhub on the folder finds it taken.
 * Abstract sockets are Linux's; elsewhere a second process on one folder is not detected.
 */
async function holdDataFolder(dir: string): Promise<net.Server | undefined> {
  if (process.platform !== "linux") return undefined;
  const name = `\0runnerhub-redis-${createHash("sha256").update(dir).digest("hex").slice(0, 32)}`;
  const holder = net.createServer((connection) => connection.destroy());
  try {
    await new Promise<void>((resolve, reject) => {
      holder.once("error", reject);
      holder.listen({ path: name }, resolve);
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
    throw new Error(
      `another runnerhub process runs the embedded Redis of the data folder ${dir}; stop it first, ` +
        "give this process its own RUNNERHUB_DATA_DIR, or share one Redis between processes with REDIS_URL",
      { cause: error },
    );
  }
  holder.unref();
  return holder;
}

async function sendShutdown(socket: string): Promise<void> {
  const client = probeClient(socket);
  try {
    await client.connect();
    await client.call("SHUTDOWN");
  } catch (error) {
    // A server that shuts down closes the connection without a reply; only a reply is a refusal.
    if (error instanceof Error && error.name === "ReplyError") {
      throw new Error(`the redis-server left running on ${socket} refused to shut down: ${error.message}`, {
        cause: error,
      });
    }
  } finally {
    client.disconnect();
  }
}

/**
 * Stops a redis-server left running on this data folder by a runnerhub that died without stopping
 * it (SIGKILL where setpriv is missing, or a runnerhub from before the parent-death signal). It is
 * stopped rather than reused: nobody reads its output any more, and nothing would stop it when this
 * process dies. SHUTDOWN flushes its append-only file, which the new server loads, so nothing is
 * lost, and the new server starts only once the old one has gone: never two on one file.
 */
async function stopLeftover(paths: Paths, boundMs: number, log: Logger): Promise<void> {
  const deadline = Date.now() + boundMs;
  const seen = new Set<number>();
  for (;;) {
    const found = await probe(paths.socket);
    if (found.state === "refused") {
      throw new Error(
        `something answers on the embedded Redis socket ${paths.socket} but not as runnerhub's redis-server would ` +
          `(${found.reason}); stop what runs on the data folder ${paths.dir} or set REDIS_URL`,
      );
    }
    if (found.state === "ready" && !seen.has(found.pid)) {
      seen.add(found.pid);
      log.warn(
        { redisPid: found.pid, dataDir: paths.dir },
        "stopping the redis-server a previous run left on the data folder",
      );
    }
    const pidFilePid = pidFileServer(paths);
    if (pidFilePid !== undefined) seen.add(pidFilePid);
    const running = [...seen].filter((pid) => isRedisServerIn(pid, paths.dir));
    if (found.state === "absent" && running.length === 0) return;
    if (found.state === "ready") await sendShutdown(paths.socket);
    if (Date.now() >= deadline) {
      const pids = running.join(", ");
      const which = pids ? `a redis-server (pid ${pids})` : "a redis-server";
      throw new Error(
        `${which} left running on the data folder ${paths.dir} neither stopped nor answered on ` +
          `${paths.socket} within ${boundMs / 1000} s (${found.state}); runnerhub does not start a second one ` +
          `on the same append-only file. Stop it (${pids ? `kill ${pids}` : "the redis-server working in that folder"}) ` +
          "and start runnerhub again",
      );
    }
    await sleep(EMBEDDED_REDIS_POLL_MS);
  }
}

/**
 * setpriv (util-linux) asks the kernel to send redis-server SIGTERM when this process dies, even by
 * SIGKILL, so a crash leaves no server behind; redis-server then flushes its file and exits.
 */
function parentDeathSignalWorks(): boolean {
  return spawnSync("setpriv", ["--pdeathsig", "TERM", "--", "true"], { stdio: "ignore" }).status === 0;
}

function spawnServer(paths: Paths): ChildProcess {
  const server = [
    "--port",
    "0",
    "--unixsocket",
    paths.socket,
    "--unixsocketperm",
    "700",
    "--dir",
    paths.dir,
    "--pidfile",
    paths.pidFile,
    "--appendonly",
    "yes",
    "--save",
    "",
  ];
  const [file, args] = parentDeathSignalWorks()
    ? ["setpriv", ["--pdeathsig", "TERM", "--", "redis-server", ...server]]
    : ["redis-server", server];
  // A session of its own: a terminal's Ctrl-C reaches runnerhub only, which stops Redis last,
  // after the work that still needs it.
  return spawn(file, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
}

/** The last lines redis-server wrote, for error messages. */
function keepOutput(child: ChildProcess): () => string {
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
    lines.splice(0, Math.max(0, lines.length - EMBEDDED_REDIS_OUTPUT_LINES));
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return () => (lines.length > 0 ? lines.join("\n") : "(no output)");
}

/** Resolves with how the child ended (its output read to the end), never rejects. */
function ended(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    child.once("error", (error) => resolve(`could not run: ${error.message}`));
    child.once("close", (code, signal) => resolve(code === null ? `killed by ${signal}` : `exit code ${code}`));
  });
}

async function untilAnswering(paths: Paths, child: ChildProcess, output: () => string, boundMs: number) {
  const deadline = Date.now() + boundMs;
  const exit = ended(child);
  const failure = (what: string) =>
    new Error(
      `the embedded redis-server ${what} (data folder ${paths.dir}, socket ${paths.socket}). Its last output:\n` +
        `${output()}\nFix what it says (a damaged append-only file: redis-check-aof --fix), ` +
        "or set REDIS_URL to use a Redis of your own",
    );
  for (;;) {
    const found = await probe(paths.socket);
    if (found.state === "ready") return;
    const how = await Promise.race([exit, sleep(EMBEDDED_REDIS_POLL_MS).then(() => undefined)]);
    if (how !== undefined) throw failure(`stopped (${how}) before it answered`);
    if (Date.now() >= deadline) {
      const loading = found.state === "loading" ? ", still loading its append-only file" : "";
      throw failure(`did not answer PING within ${boundMs / 1000} s${loading}`);
    }
  }
}

/**
 * Without REDIS_URL, runnerhub runs its own redis-server on a unix socket under the data folder,
 * with an append-only file there so queues and runner records survive restarts. One per folder:
 * a second runnerhub on it is refused, and a server left by a killed one is stopped first.
 * `startTimeoutMs` bounds each wait: for a left-over server to go, and for the new one to answer.
 */
export async function startEmbeddedRedis(
  dataDir: string,
  log: Logger,
  startTimeoutMs = EMBEDDED_REDIS_START_MS,
): Promise<RedisHandle> {
  const found = spawnSync("redis-server", ["--version"], { stdio: "ignore" });
  if (found.error) {
    throw new Error(
      "REDIS_URL is not set and no redis-server binary was found to start an embedded one; " +
        "install Redis (e.g. apt-get install redis-server) or set REDIS_URL=redis://host:6379",
    );
  }
  const requested = path.resolve(dataDir, "redis");
  mkdirSync(requested, { recursive: true });
  const dir = realpathSync(requested);
  const paths: Paths = { dir, socket: path.join(dir, "redis.sock"), pidFile: path.join(dir, "redis.pid") };
  if (paths.socket.length > 100) {
    throw new Error(
      `the data folder path is too long for a unix socket (${paths.socket}); set RUNNERHUB_DATA_DIR to a shorter path or set REDIS_URL`,
    );
  }
  const holder = await holdDataFolder(dir);
  const release = () => holder?.close();
  let started: { child: ChildProcess; output: () => string; client: Redis } | undefined;
  try {
    await stopLeftover(paths, startTimeoutMs, log);
    const child = spawnServer(paths);
    const output = keepOutput(child);
    try {
      await untilAnswering(paths, child, output, startTimeoutMs);
      const client = new Redis({ path: paths.socket, ...clientOptions() });
      client.on("error", () => undefined);
      await connected(client, paths.socket);
      started = { child, output, client };
    } catch (error) {
      child.kill("SIGKILL");
      throw error;
    }
  } catch (error) {
    release();
    throw error;
  }
  const { child, output, client } = started;
  let closing = false;
  child.once("exit", (code, signal) => {
    if (!closing) {
      log.error(
        { code, signal, dataDir: dir, output: output() },
        "embedded redis-server stopped; runnerhub has no Redis until it is restarted",
      );
    }
  });
  // Never outlive this process, even when it exits without close() (a shutdown cut short).
  const killOnExit = () => child.kill("SIGTERM");
  process.once("exit", killOnExit);
  log.info({ socket: paths.socket, dataDir: dir, redisPid: child.pid }, "embedded redis-server started");
  return {
    client,
    describe: `unix:${paths.socket}`,
    async close() {
      closing = true;
      process.off("exit", killOnExit);
      await client.quit();
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
      release();
    },
  };
}
