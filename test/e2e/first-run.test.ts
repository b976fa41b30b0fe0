import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
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
  sim = await GitHubSimulator.start({ webhookSecret: WEBHOOK_SECRET, manifestApp: { id: 1, pem: testPrivateKey } });
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

/** The setup URL the app printed at start (on the console, and in the log). */
function printedSetupUrl(): string | undefined {
  return /^ {2}(http:\/\/\S+\/probot\?token=\S+)$/m.exec(output.join(""))?.[1];
}

describe("the first start of the Docker image (NODE_ENV=production, no App yet)", () => {
  it("serves the setup page instead of exiting, to whoever opens the URL it printed", async () => {
    const printed = await waitFor(printedSetupUrl, {
      timeoutMs: 30_000,
      what: `the setup URL (output: ${output.join("")})`,
    });
    const setupUrl = new URL(printed);
    expect(setupUrl.origin).toBe(url);
    expect(setupUrl.searchParams.get("token")).toMatch(/^[A-Za-z0-9_-]{32}$/);
    // The JSON log line carries the same URL.
    expect(output.join("")).toContain(`"setupUrl":"${printed}"`);
    expect((await fetch(`${url}/probot`)).status).toBe(401);
    expect((await fetch(printed)).status).toBe(200);
  });

  it("creates the App from the manifest at GitHub, keeps its settings, and starts for real without a restart", async () => {
    const printed = printedSetupUrl() ?? "";
    const token = new URL(printed).searchParams.get("token") ?? "";
    // Someone without the token cannot finish the flow GitHub sends back, nor import an App.
    expect((await fetch(`${url}/probot/setup?code=stolen`, { redirect: "manual" })).status).toBe(401);
    const imported = await fetch(`${url}/probot/import`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ appId: 99, pem: testPrivateKey, webhook_secret: "theirs" }),
    });
    expect(imported.status).toBe(401);
    expect(existsSync(settingsFile)).toBe(false);

    // The browser: the page's form posts the manifest to GitHub, which sends it back with a code.
    const page = await (await fetch(printed)).text();
    const action = (/<form action="([^"]+)" method="post">/.exec(page)?.[1] ?? "").replaceAll("&amp;", "&");
    expect(action).toBe(`http://${sim.host}/settings/apps/new?state=${token}`);
    const manifest = (/id="manifest" value="([^"]+)"/.exec(page)?.[1] ?? "")
      .replaceAll("&quot;", '"')
      .replaceAll("&#39;", "'")
      .replaceAll("&lt;", "<")
      .replaceAll("&gt;", ">")
      .replaceAll("&amp;", "&");
    const atGitHub = await fetch(action, {
      method: "POST",
      body: new URLSearchParams({ manifest }),
      redirect: "manual",
    });
    expect(atGitHub.status).toBe(302);
    const back = atGitHub.headers.get("location") ?? "";
    expect(back).toMatch(new RegExp(`^${url}/probot/setup\\?code=\\w+&state=${token}$`));
    expect(sim.manifests[0]?.manifest).toMatchObject({ name: "runnerhub", hook_attributes: { url: `${url}/` } });

    // A code without the state (someone who learned it) is refused; with it, the App is saved.
    expect((await fetch(back.replace(/&state=.*$/, ""), { redirect: "manual" })).status).toBe(401);
    expect(existsSync(settingsFile)).toBe(false);
    const finished = await fetch(back, { redirect: "manual" });
    expect(finished.status).toBe(302);
    expect(finished.headers.get("location")).toBe(`${sim.url}/apps/runnerhub/installations/new`);

    await waitFor(async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200, {
      timeoutMs: 30_000,
      what: `runnerhub to be ready after setup (output: ${output.join("")})`,
    });
    expect(statSync(settingsFile).mode & 0o777).toBe(0o600);
    const saved = readFileSync(settingsFile, "utf8");
    expect(saved).toMatch(/^APP_ID=1$/m);
    expect(saved).toMatch(new RegExp(`^WEBHOOK_SECRET=${WEBHOOK_SECRET}$`, "m"));
    expect(output.join("")).toContain("GitHub App settings saved by the setup page; starting");
    expect(output.join("")).not.toContain("BEGIN RSA PRIVATE KEY");
    // The setup routes are gone with the setup server.
    expect((await fetch(printed)).status).toBe(404);
  });
});
