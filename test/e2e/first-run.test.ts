import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { stringify } from "yaml";
import { GitHubSimulator, waitFor } from "../sim/github-simulator.js";
import { freePort } from "../support/app-process.js";
import { testPrivateKey } from "../integration/support/context.js";
import { stubPool } from "./support/stack.js";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const WEBHOOK_SECRET = "first-run-secret";

let app: ChildProcess;
let exited: Promise<number | null>;
let url: string;
let sim: GitHubSimulator;
let settingsFile: string;
const output: string[] = [];

beforeAll(async () => {
  sim = await GitHubSimulator.start({ webhookSecret: WEBHOOK_SECRET });
  const dir = mkdtempSync(path.join(tmpdir(), "runnerhub-first-run-"));
  const poolsFile = path.join(dir, "pools.yml");
  writeFileSync(poolsFile, stringify([stubPool()]));
  // As docker-compose.yml runs the image: production mode, settings on a data volume not there yet.
  settingsFile = path.join(dir, "data", "runnerhub.env");
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  app = spawn(process.execPath, ["dist/main.js"], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/root",
      NODE_ENV: "production",
      PORT: String(port),
      HOST: "127.0.0.1",
      RUNNERHUB_ENV_FILE: settingsFile,
      RUNNERHUB_CONFIG: poolsFile,
      REDIS_URL: inject("redisUrl"),
      RUNNERHUB_REDIS_PREFIX: `first${process.pid}`,
      DOCKER_HOST: inject("dockerHost"),
      RUNNERHUB_ENGINE_NAME: "first-run",
      GHE_HOST: sim.host,
      GHE_PROTOCOL: "http",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  for (const stream of [app.stdout, app.stderr]) stream?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  exited = new Promise((resolve) => app.once("exit", (code) => resolve(code)));
});

afterAll(async () => {
  app?.kill("SIGTERM");
  await exited;
  await sim?.stop();
});

describe("the first start of the Docker image (NODE_ENV=production, no App yet)", () => {
  it("serves the setup page instead of exiting", async () => {
    await waitFor(async () => (await fetch(`${url}/probot`).catch(() => undefined))?.status === 200, {
      timeoutMs: 30_000,
      what: `the setup page (output: ${output.join("")})`,
    });
    expect(await (await fetch(`${url}/probot`)).text()).toContain('id="manifest"');
  });

  it("keeps the settings it is given in the settings file and starts for real without a restart", async () => {
    const imported = await fetch(`${url}/probot/import`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ appId: 1, pem: testPrivateKey, webhook_secret: WEBHOOK_SECRET }),
    });
    expect(imported.status).toBe(200);
    await waitFor(async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200, {
      timeoutMs: 30_000,
      what: `runnerhub to be ready after setup (output: ${output.join("")})`,
    });
    expect(statSync(settingsFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(settingsFile, "utf8")).toMatch(/^APP_ID=1$/m);
    expect(output.join("")).toContain("GitHub App settings saved by the setup page; starting");
    expect(output.join("")).not.toContain("BEGIN RSA PRIVATE KEY");
  });
});
