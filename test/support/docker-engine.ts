import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import Dockerode from "dockerode";
import { freePort, sleep } from "./app-process.js";
import { makeDockerCertificates, type DockerCertificates } from "./tls-certs.js";

const READY_DEADLINE_MS = 30_000;
const READY_POLL_MS = 100;
/** dockerd gives running containers up to 10 s to stop on shutdown, so allow more than that. */
const STOP_DEADLINE_MS = 30_000;
const LOG_TAIL_LINES = 25;

/** A dockerode client for a `unix://…` or loopback `tcp://host:port` Docker host. */
export function dockerClient(dockerHost: string): Dockerode {
  if (dockerHost.startsWith("unix://")) return new Dockerode({ socketPath: dockerHost.slice("unix://".length) });
  if (dockerHost.startsWith("/")) return new Dockerode({ socketPath: dockerHost });
  const tcp = /^(?:tcp|http):\/\/([^:/]+):(\d+)\/?$/.exec(dockerHost);
  if (tcp?.[1] !== undefined && tcp[2] !== undefined) {
    return new Dockerode({ protocol: "http", host: tcp[1], port: Number(tcp[2]) });
  }
  throw new Error(`unsupported Docker host ${JSON.stringify(dockerHost)}: use unix:///path or tcp://127.0.0.1:port`);
}

/** One GET /_ping on a unix socket: true when the engine answers 200. */
function pingOnce(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath, path: "/_ping", timeout: 1_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once("timeout", () => req.destroy());
    req.once("error", () => resolve(false));
  });
}

/** Processes whose command line names `dir` (containerd, shims), plus all their descendants. */
function processesUsing(dir: string): number[] {
  const children = new Map<number, number[]>();
  const roots: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name in parentheses may itself contain spaces or parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), pid]);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ");
      if (cmdline.includes(`${dir}/`) && pid !== process.pid) roots.push(pid);
    } catch {
      // The process exited while we were reading it.
    }
  }
  const found = new Set<number>();
  const queue = [...roots];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    if (found.has(pid)) continue;
    found.add(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return [...found];
}

/** Mount points at or below `dir`, deepest first, decoded from /proc/self/mountinfo. */
function mountsUnder(dir: string): string[] {
  const decode = (field: string): string =>
    field.replace(/\\([0-7]{3})/g, (_match, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((field): field is string => field !== undefined)
    .map(decode)
    .filter((mountPoint) => mountPoint === dir || mountPoint.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/**
 * A private Docker engine (dockerd) with its own socket, data root, exec root and pidfile in a
 * fresh folder, started as TESTING.md describes: no default bridge, no iptables.
 */
/** A loopback TCP listener with `--tlsverify`, next to the unix socket. */
interface TlsListener {
  port: number;
  certs: DockerCertificates;
}

export class DockerEngine {
  readonly socketPath: string;
  private tls: TlsListener | undefined;
  readonly logPath: string;
  private readonly pidFile: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private readonly onParentExit = (): void => {
    // Last resort if the test process dies without stopping the engine; SIGTERM (not KILL)
    // lets dockerd stop its containers and containerd on its own.
    const pid = this.child?.pid;
    if (pid !== undefined && this.running) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        // Already gone.
      }
    }
  };

  private constructor(
    readonly runDir: string,
    /** A process group of its own: a terminal's Ctrl-C reaches only the caller, which stops dockerd last. */
    private readonly ownProcessGroup: boolean,
  ) {
    this.socketPath = path.join(runDir, "docker.sock");
    this.logPath = path.join(runDir, "dockerd.log");
    this.pidFile = path.join(runDir, "dockerd.pid");
  }

  get dockerHost(): string {
    return `unix://${this.socketPath}`;
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  client(): Dockerode {
    return new Dockerode({ socketPath: this.socketPath });
  }

  /** The client side of the TLS listener, in Docker's variables (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH). */
  get tlsEnv(): Record<string, string> {
    const tls = this.requireTls();
    return {
      DOCKER_HOST: `tcp://127.0.0.1:${tls.port}`,
      DOCKER_TLS_VERIFY: "1",
      DOCKER_CERT_PATH: tls.certs.clientDir,
    };
  }

  /** A dockerode client that speaks TLS with the client certificate, as the app would. */
  tlsClient(): Dockerode {
    const tls = this.requireTls();
    const file = (name: string) => readFileSync(path.join(tls.certs.clientDir, name));
    return new Dockerode({
      protocol: "https",
      host: "127.0.0.1",
      port: tls.port,
      ca: file("ca.pem"),
      cert: file("cert.pem"),
      key: file("key.pem"),
    });
  }

  /**
   * SIGSTOP: the engine stops answering (its containers keep running) until thaw(). Resolves once
   * every thread of dockerd is stopped: a thread busy on another core may serve one more request.
   */
  async freeze(): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) throw new Error("this Docker engine is not running");
    process.kill(pid, "SIGSTOP");
    const stopped = (): boolean =>
      readdirSync(`/proc/${pid}/task`).every((task) => {
        const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2).startsWith("T");
      });
    const deadline = Date.now() + READY_DEADLINE_MS;
    while (!stopped()) {
      if (Date.now() > deadline) throw new Error(`dockerd (pid ${pid}) did not stop within ${READY_DEADLINE_MS} ms`);
      await sleep(10);
    }
  }

  thaw(): void {
    if (this.pid !== undefined) process.kill(this.pid, "SIGCONT");
  }

  private requireTls(): TlsListener {
    if (!this.tls)
      throw new Error("this engine was started without a TLS listener (DockerEngine.start({ tls: true }))");
    return this.tls;
  }

  /**
   * `tls`: also listen on a free loopback TCP port with `--tlsverify` and certificates made by
   * openssl (a CA, a server certificate for IP 127.0.0.1, a client certificate).
   */
  static async start(options: { tls?: boolean; ownProcessGroup?: boolean } = {}): Promise<DockerEngine> {
    if (process.getuid?.() !== 0) {
      throw new Error(
        "a private Docker engine needs root (dockerd runs as root here, see TESTING.md); " +
          "run the tests as root or point RUNNERHUB_TEST_DOCKER_HOST at a running engine",
      );
    }
    // Short on purpose: unix socket paths are limited to about 100 characters.
    const engine = new DockerEngine(await mkdtemp("/tmp/rh-dockerd-"), options.ownProcessGroup ?? false);
    try {
      if (options.tls) {
        engine.tls = { port: await freePort(), certs: makeDockerCertificates(path.join(engine.runDir, "tls")) };
      }
      await engine.launch();
    } catch (err) {
      await engine.destroy();
      throw err;
    }
    return engine;
  }

  /** Starts the same engine again (same folders, so the same images and containers). */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  /** SIGTERM by pid, SIGKILL after a deadline; the folder stays for restart(). */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.pid === undefined || !this.running) return;
    const pid = child.pid;
    try {
      // A frozen engine would not act on SIGTERM.
      process.kill(pid, "SIGCONT");
      process.kill(pid, "SIGTERM");
    } catch {
      // Exited between the check and the kill.
    }
    const timer = setTimeout(() => {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }, STOP_DEADLINE_MS);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops the engine and removes its folder, including anything it left mounted or running. */
  async destroy(): Promise<void> {
    await this.stop();
    // After a SIGKILL, container shims (and their containers) outlive dockerd.
    for (const pid of processesUsing(this.runDir)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    for (const mountPoint of mountsUnder(this.runDir)) {
      spawnSync("umount", ["--lazy", mountPoint], { stdio: "ignore" });
    }
    await rm(this.runDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }

  private async logTail(): Promise<string> {
    try {
      const text = await readFile(this.logPath, "utf8");
      return text.trimEnd().split("\n").slice(-LOG_TAIL_LINES).join("\n");
    } catch {
      return "(no dockerd log)";
    }
  }

  private async launch(): Promise<void> {
    if (this.running) throw new Error("this Docker engine is already running");
    // A pidfile left by a killed dockerd would make the next one refuse to start.
    if (existsSync(this.pidFile)) await rm(this.pidFile, { force: true });
    const args = [
      "--host",
      this.dockerHost,
      "--data-root",
      path.join(this.runDir, "data"),
      "--exec-root",
      path.join(this.runDir, "exec"),
      "--pidfile",
      this.pidFile,
      "--bridge=none",
      "--iptables=false",
      "--ip6tables=false",
    ];
    if (this.tls) {
      const server = (name: string) => path.join(this.tls?.certs.serverDir ?? "", name);
      args.push(
        "--host",
        `tcp://127.0.0.1:${this.tls.port}`,
        "--tlsverify",
        "--tlscacert",
        server("ca.pem"),
        "--tlscert",
        server("server-cert.pem"),
        "--tlskey",
        server("server-key.pem"),
      );
    }
    const logFd = openSync(this.logPath, "a");
    let child: ChildProcess;
    try {
      child = spawn("dockerd", args, { stdio: ["ignore", logFd, logFd], detached: this.ownProcessGroup });
    } finally {
      closeSync(logFd);
    }
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.once("exit", () => {
        process.removeListener("exit", this.onParentExit);
        resolve();
      });
    });
    await new Promise<void>((resolve, reject) => {
      child.once("error", (err: NodeJS.ErrnoException) => {
        reject(
          err.code === "ENOENT"
            ? new Error("dockerd is not installed or not on PATH (it lives in /usr/sbin): apt-get install docker.io")
            : new Error(`could not start dockerd: ${err.message}`),
        );
      });
      child.once("spawn", () => resolve());
    });
    process.once("exit", this.onParentExit);

    const deadline = Date.now() + READY_DEADLINE_MS;
    while (Date.now() < deadline) {
      if (!this.running) {
        throw new Error(
          `dockerd exited (code ${String(child.exitCode ?? child.signalCode)}) before answering /_ping; ` +
            `last lines of ${this.logPath}:\n${await this.logTail()}`,
        );
      }
      if (await pingOnce(this.socketPath)) return;
      await sleep(READY_POLL_MS);
    }
    await this.stop();
    throw new Error(
      `dockerd did not answer /_ping on ${this.socketPath} within ${READY_DEADLINE_MS} ms; ` +
        `last lines of ${this.logPath}:\n${await this.logTail()}`,
    );
  }
}
