import { spawn, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { existsSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const HEALTH_DEADLINE_MS = 30_000;
const HEALTH_POLL_MS = 100;
const STOP_GRACE_MS = 10_000;
const LOG_TAIL_LINES = 40;

export interface AppProcess {
  readonly url: string;
  readonly pid: number;
  logs(): string[];
  waitForLog(re: RegExp, timeoutMs: number): Promise<string>;
  /** The exit code (null when killed by a signal) once the process has exited by itself. */
  waitForExit(timeoutMs: number): Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartAppOptions {
  env: Record<string, string>;
  cwd?: string;
  /** Flags for node itself, before the entry (e.g. --cpu-prof, which NODE_OPTIONS refuses). */
  nodeArgs?: string[];
  /** A process group of its own, so a terminal's Ctrl-C reaches only the caller, which stops it in order (the demo). */
  ownProcessGroup?: boolean;
}

/** Asks the kernel for a currently free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0 }, () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error("could not read the port of a loopback listener"));
        return;
      }
      server.close((err) => (err ? reject(err) : resolve(address.port)));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Strips g/y so that `test` does not depend on a previous call's lastIndex. */
function statelessRegExp(re: RegExp): RegExp {
  return new RegExp(re.source, re.flags.replace(/[gy]/g, ""));
}

function healthOnce(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 1_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once("timeout", () => req.destroy());
    req.once("error", () => resolve(0));
  });
}

class ManagedApp implements AppProcess {
  readonly url: string;
  readonly pid: number;
  private readonly lines: string[] = [];
  private readonly events = new EventEmitter();
  private readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;
  private readonly onParentExit = (): void => {
    // Last resort when the test process dies without stopping the app: never leak it.
    if (this.exitCode === undefined) {
      try {
        process.kill(this.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  };

  constructor(
    private readonly child: ChildProcess,
    port: string,
  ) {
    if (child.pid === undefined) {
      throw new Error("app process has no pid");
    }
    this.pid = child.pid;
    this.url = `http://127.0.0.1:${port}`;
    this.events.setMaxListeners(0);
    this.collect(child.stdout);
    this.collect(child.stderr);
    this.exited = new Promise((resolve) => {
      // "close" rather than "exit": it comes after stdout/stderr are drained, so logs() is complete.
      child.once("close", (code) => {
        this.exitCode = code;
        process.removeListener("exit", this.onParentExit);
        this.events.emit("exit", code);
        resolve(code);
      });
    });
    process.once("exit", this.onParentExit);
  }

  private collect(stream: Readable | null): void {
    if (stream === null) return;
    let partial = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      const parts = (partial + chunk).split("\n");
      partial = parts.pop() ?? "";
      for (const line of parts) this.push(line);
    });
    stream.once("end", () => {
      if (partial !== "") this.push(partial);
      partial = "";
    });
  }

  private push(line: string): void {
    const clean = line.endsWith("\r") ? line.slice(0, -1) : line;
    this.lines.push(clean);
    this.events.emit("line", clean);
  }

  logs(): string[] {
    return [...this.lines];
  }

  tail(): string {
    return this.lines.slice(-LOG_TAIL_LINES).join("\n");
  }

  get hasExited(): boolean {
    return this.exitCode !== undefined;
  }

  waitForLog(re: RegExp, timeoutMs: number): Promise<string> {
    const pattern = statelessRegExp(re);
    const seen = this.lines.find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.events.removeListener("line", onLine);
        this.events.removeListener("exit", onExit);
      };
      const onLine = (line: string): void => {
        if (!pattern.test(line)) return;
        cleanup();
        resolve(line);
      };
      const onExit = (code: number | null): void => {
        cleanup();
        reject(
          new Error(`app exited (code ${String(code)}) before logging ${String(re)}; last lines:\n${this.tail()}`),
        );
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no log line matched ${String(re)} within ${timeoutMs} ms; last lines:\n${this.tail()}`));
      }, timeoutMs);
      this.events.on("line", onLine);
      this.events.once("exit", onExit);
      if (this.hasExited) onExit(this.exitCode ?? null);
    });
  }

  waitForExit(timeoutMs: number): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`app did not exit within ${timeoutMs} ms; last lines:\n${this.tail()}`)),
        timeoutMs,
      );
    });
    return Promise.race([this.exited, late]).finally(() => clearTimeout(timer));
  }

  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    if (this.exitCode !== undefined) return this.exitCode;
    try {
      process.kill(this.pid, signal);
    } catch {
      // It exited between the check and the kill; the exit promise settles anyway.
    }
    const timer = setTimeout(() => {
      try {
        process.kill(this.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }, STOP_GRACE_MS);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  async waitHealthy(): Promise<void> {
    const deadline = Date.now() + HEALTH_DEADLINE_MS;
    const healthUrl = `${this.url}/healthz`;
    let lastStatus = 0;
    while (Date.now() < deadline) {
      if (this.hasExited) {
        throw new Error(
          `app exited (code ${String(this.exitCode)}) before ${healthUrl} answered; last lines:\n${this.tail()}`,
        );
      }
      lastStatus = await healthOnce(healthUrl);
      if (lastStatus === 200) return;
      await sleep(HEALTH_POLL_MS);
    }
    throw new Error(
      `${healthUrl} did not answer 200 within ${HEALTH_DEADLINE_MS} ms (last status ${lastStatus || "none"}); last lines:\n${this.tail()}`,
    );
  }
}

/**
 * Starts the built app (`node dist/main.js`) with only the given environment plus PATH and
 * HOME, so that nothing from the test runner's environment changes its behaviour.
 */
export async function startApp(opts: StartAppOptions): Promise<AppProcess> {
  const port = opts.env.PORT;
  if (port === undefined || !/^\d+$/.test(port)) {
    throw new Error("startApp needs env.PORT (a number) to know where /healthz answers");
  }
  const cwd = opts.cwd ?? REPO_ROOT;
  const entry = path.join(cwd, "dist", "main.js");
  if (!existsSync(entry)) {
    throw new Error(`${entry} does not exist: build the app first (npm run build)`);
  }
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: process.env.HOME ?? "/root",
    ...opts.env,
  };
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), entry], {
    cwd,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: opts.ownProcessGroup ?? false,
  });
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
  const app = new ManagedApp(child, port);
  try {
    await app.waitHealthy();
  } catch (err) {
    await app.stop("SIGKILL");
    throw err;
  }
  return app;
}
