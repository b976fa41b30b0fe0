import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import net from "node:net";
import { freePort, sleep } from "./app-process.js";

const READY_DEADLINE_MS = 10_000;
const READY_POLL_MS = 50;
const STOP_GRACE_MS = 5_000;
const OUTPUT_TAIL_LINES = 30;
const PORT_ATTEMPTS = 3;

/** What to run: redis-server (the default) or redis-sentinel, with arguments for a given port. */
export interface RedisLaunch {
  command: "redis-server" | "redis-sentinel";
  args(port: number): string[];
}

const PLAIN: RedisLaunch = {
  command: "redis-server",
  args: (port) => ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
};

class RedisStartError extends Error {
  constructor(
    message: string,
    readonly portTaken: boolean,
  ) {
    super(message);
  }
}

/** One PING over a raw socket: true when the server answers +PONG. */
function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    let reply = "";
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      reply += chunk;
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
  });
}

/**
 * A throwaway redis-server on a free loopback port, run in the foreground (not daemonized)
 * so that this process owns its pid and can always stop it.
 */
export class RedisServer {
  private exitCode: number | null | undefined;
  private readonly exited: Promise<void>;
  private readonly onParentExit = (): void => {
    // Last resort if the test process dies without calling stop(): do not leak the server.
    if (this.exitCode === undefined) {
      try {
        process.kill(this.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  };

  private constructor(
    readonly port: number,
    readonly pid: number,
    child: ChildProcess,
    private readonly output: string[],
    private readonly launch: RedisLaunch,
  ) {
    this.exited = new Promise((resolve) => {
      const settle = (code: number | null): void => {
        this.exitCode = code;
        process.removeListener("exit", this.onParentExit);
        resolve();
      };
      if (child.exitCode !== null || child.signalCode !== null) settle(child.exitCode);
      else child.once("exit", settle);
    });
    process.once("exit", this.onParentExit);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /**
   * ownProcessGroup: a terminal's Ctrl-C reaches only the caller, which stops the server last.
   * launch: another command line than a plain throwaway redis-server (a replica, a Sentinel).
   */
  static async start(options: { ownProcessGroup?: boolean; launch?: RedisLaunch } = {}): Promise<RedisServer> {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        return await RedisServer.startOn(port, options.ownProcessGroup ?? false, options.launch ?? PLAIN);
      } catch (err) {
        // Another process may grab the port between freePort() and redis binding it.
        if (err instanceof RedisStartError && err.portTaken && attempt < PORT_ATTEMPTS) continue;
        throw err;
      }
    }
  }

  private static async startOn(port: number, ownProcessGroup: boolean, launch: RedisLaunch): Promise<RedisServer> {
    const { command } = launch;
    const child = spawn(command, launch.args(port), { stdio: ["ignore", "pipe", "pipe"], detached: ownProcessGroup });
    const output: string[] = [];
    const keep = (chunk: Buffer): void => {
      output.push(
        ...chunk
          .toString("utf8")
          .split("\n")
          .filter((line) => line.trim() !== ""),
      );
      output.splice(0, Math.max(0, output.length - OUTPUT_TAIL_LINES));
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);

    const pid = await new Promise<number>((resolve, reject) => {
      child.once("error", (err: NodeJS.ErrnoException) => {
        reject(
          err.code === "ENOENT"
            ? new Error(`${command} is not installed or not on PATH: apt-get install ${command}`)
            : new Error(`could not start ${command}: ${err.message}`),
        );
      });
      child.once("spawn", () => {
        if (child.pid === undefined) reject(new Error(`${command} started without a pid`));
        else resolve(child.pid);
      });
    });

    const server = new RedisServer(port, pid, child, output, launch);
    const deadline = Date.now() + READY_DEADLINE_MS;
    while (Date.now() < deadline) {
      if (server.exitCode !== undefined) {
        const log = output.join("\n");
        throw new RedisStartError(
          `${command} on port ${port} exited (code ${String(server.exitCode)}) before answering PING:\n${log}`,
          /Address already in use/i.test(log),
        );
      }
      if (await pingOnce(port)) return server;
      await sleep(READY_POLL_MS);
    }
    await server.stop();
    throw new RedisStartError(
      `${command} on port ${port} did not answer PING within ${READY_DEADLINE_MS} ms:\n${output.join("\n")}`,
      false,
    );
  }

  /** Stops this server and starts a new one on the same port with no data (it persists nothing). */
  async restartEmpty(): Promise<RedisServer> {
    await this.stop();
    return RedisServer.startOn(this.port, false, this.launch);
  }

  /** The last lines it wrote, for a failure message. */
  logs(): string[] {
    return [...this.output];
  }

  /** SIGKILL by pid, as a crashed host would go: no shutdown, no last write to its replicas. */
  async kill(): Promise<void> {
    if (this.exitCode !== undefined) return;
    try {
      process.kill(this.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
    await this.exited;
  }

  /** SIGTERM by pid, SIGKILL if it has not exited after a grace period. */
  async stop(): Promise<void> {
    if (this.exitCode !== undefined) return;
    try {
      process.kill(this.pid, "SIGTERM");
    } catch {
      // Exited between the check and the kill.
    }
    const timer = setTimeout(() => {
      try {
        process.kill(this.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }, STOP_GRACE_MS);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Live redis-server processes whose working directory is `dir` (as redis-server's --dir makes it),
 * read from /proc. Zombies have no cwd and are not counted: they hold no file any more.
 */
export function redisServersIn(dir: string): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return (
          readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "redis-server" &&
          readlinkSync(`/proc/${pid}/cwd`) === dir
        );
      } catch {
        return false;
      }
    })
    .map(Number);
}
