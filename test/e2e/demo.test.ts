import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, inject, it } from "vitest";
import { LABELS } from "../../src/docker/labels.js";
import { waitFor } from "../sim/github-simulator.js";
import { freePort } from "../support/app-process.js";
import { dockerClient } from "../support/docker-engine.js";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

let demo: ChildProcess | undefined;
const output: string[] = [];
const printed = () => output.join("");

afterAll(() => {
  // Only when the test failed half-way; a passing run has already stopped it.
  if (demo?.exitCode === null) demo.kill("SIGKILL");
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The sum of a counter over its label sets, from a /metrics text. */
function total(metrics: string, name: string): number {
  return metrics
    .split("\n")
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0);
}

describe("npm run demo", () => {
  it("prints the dashboard and token, runs jobs, and stops cleanly on SIGINT", async () => {
    const port = await freePort();
    demo = spawn(process.execPath, ["--import", "tsx", "demo/run.ts", "--duration", "150s", "--port", String(port)], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", DOCKER_HOST: inject("dockerHost") },
      stdio: ["ignore", "pipe", "pipe"],
    });
    for (const stream of [demo.stdout, demo.stderr])
      stream?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    const exited = new Promise<number | null>((resolve) => demo?.once("exit", (code) => resolve(code)));

    const url = await waitFor(() => /^Dashboard: (http:\/\/127\.0\.0\.1:\d+)\/admin$/m.exec(printed())?.[1], {
      timeoutMs: 90_000,
      what: "the dashboard line",
    });
    expect(url).toBe(`http://127.0.0.1:${port}`);
    const token = /^Admin token: ([0-9a-f]{32})$/m.exec(printed())?.[1];
    const redisPid = Number(/^redis-server: \S+ \(pid (\d+)\)$/m.exec(printed())?.[1]);
    const appPid = Number(/^runnerhub is up: \S+ \(pid (\d+)\)$/m.exec(printed())?.[1]);
    expect(alive(redisPid) && alive(appPid)).toBe(true);

    const pools = await fetch(`${url}/admin/pools`, { headers: { authorization: `Bearer ${token}` } });
    expect(pools.status).toBe(200);
    expect(JSON.stringify(await pools.json())).toContain("demo-big");
    await waitFor(
      async () => total(await (await fetch(`${url}/metrics`)).text(), "runnerhub_jobs_completed_total") >= 3,
      { timeoutMs: 90_000, what: `three completed jobs (demo output:\n${printed()})` },
    );

    demo.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(printed()).toContain("stopped cleanly");
    expect(alive(redisPid)).toBe(false);
    expect(alive(appPid)).toBe(false);
    const left = await dockerClient(inject("dockerHost")).listContainers({
      all: true,
      filters: { label: [`${LABELS.managed}=true`] },
    });
    expect(left.filter((c) => (c.Labels[LABELS.pool] ?? "").startsWith("demo-"))).toEqual([]);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  }, 240_000);
});
