import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type Dockerode from "dockerode";
import { freePort, sleep } from "./app-process.js";

const READY_DEADLINE_MS = 15_000;
const READY_POLL_MS = 100;
const STOP_DEADLINE_MS = 10_000;

/**
 * A Docker registry on loopback (Debian's `docker-registry`, distribution 2.8) with its own
 * storage folder, as TESTING.md describes. The engine trusts a loopback registry over plain HTTP.
 */
export class RegistryServer {
  private readonly lines: string[] = [];

  private constructor(
    readonly host: string,
    private readonly dir: string,
    private readonly child: ChildProcess,
    private readonly exited: Promise<void>,
  ) {
    let partial = "";
    const collect = (chunk: Buffer) => {
      const parts = (partial + chunk.toString("utf8")).split("\n");
      partial = parts.pop() ?? "";
      this.lines.push(...parts);
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
  }

  static async start(): Promise<RegistryServer> {
    const dir = await mkdtemp(path.join(tmpdir(), "rh-registry-"));
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    const config = path.join(dir, "registry.yml");
    await writeFile(
      config,
      [
        "version: 0.1",
        "log: { level: info, accesslog: { disabled: false } }",
        `storage: { filesystem: { rootdirectory: ${path.join(dir, "data")} }, delete: { enabled: true } }`,
        `http: { addr: "${host}" }`,
        "",
      ].join("\n"),
    );
    const child = spawn("docker-registry", ["serve", config], { stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", (error: NodeJS.ErrnoException) =>
        reject(
          error.code === "ENOENT"
            ? new Error("docker-registry is not installed: apt-get install docker-registry")
            : new Error(`could not start docker-registry: ${error.message}`),
        ),
      );
    });
    const registry = new RegistryServer(host, dir, child, exited);
    const deadline = Date.now() + READY_DEADLINE_MS;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) break;
      const answer = await fetch(`http://${host}/v2/`).catch(() => undefined);
      if (answer?.status === 200) return registry;
      await sleep(READY_POLL_MS);
    }
    const tail = registry.logs().slice(-20).join("\n");
    await registry.stop();
    throw new Error(`docker-registry on ${host} did not answer GET /v2/ within ${READY_DEADLINE_MS} ms:\n${tail}`);
  }

  logs(): string[] {
    return [...this.lines];
  }

  /**
   * Pushes a local image to this registry as `repository:tag`, then removes the local tag, so
   * the reference exists only in the registry. Returns the full reference.
   */
  async push(docker: Dockerode, localImage: string, repository: string, tag: string): Promise<string> {
    const reference = `${this.host}/${repository}:${tag}`;
    await docker.getImage(localImage).tag({ repo: `${this.host}/${repository}`, tag });
    // The engine wants an X-Registry-Auth header on a push even for a registry that asks for none.
    const stream = await docker.getImage(reference).push({ authconfig: { serveraddress: this.host } });
    const events = await new Promise<{ error?: string }[]>((resolve, reject) =>
      docker.modem.followProgress(stream, (error: Error | null, output: { error?: string }[]) =>
        error ? reject(error) : resolve(output),
      ),
    );
    const failure = events.find((event) => event.error !== undefined);
    if (failure) throw new Error(`pushing ${reference} failed: ${failure.error}`);
    await docker.getImage(reference).remove({ noprune: true });
    return reference;
  }

  /** SIGTERM by pid, SIGKILL after a deadline; removes the storage folder. */
  async stop(): Promise<void> {
    const pid = this.child.pid;
    if (pid !== undefined && this.child.exitCode === null && this.child.signalCode === null) {
      process.kill(pid, "SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), STOP_DEADLINE_MS);
      await this.exited;
      clearTimeout(timer);
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Docker's `pull` events for `image` on the engine between two times (ms), read as a finished stream. */
export async function pullEvents(docker: Dockerode, image: string, sinceMs: number, untilMs: number): Promise<number> {
  // Docker reads "seconds.fraction" timestamps, so events just before sinceMs stay out.
  const stream = (await docker.getEvents({
    since: (sinceMs / 1000).toFixed(3) as unknown as number,
    until: (untilMs / 1000).toFixed(3) as unknown as number,
    filters: { type: ["image"], event: ["pull"], image: [image] },
  })) as NodeJS.ReadableStream;
  let text = "";
  for await (const chunk of stream as AsyncIterable<Buffer>) text += chunk.toString("utf8");
  return text.split("\n").filter((line) => line.trim() !== "").length;
}
