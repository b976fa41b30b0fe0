import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../sim/github-simulator.js";
import { freePort } from "../support/app-process.js";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

let app: ChildProcess;
let url: string;

beforeAll(async () => {
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  // A fresh checkout: no APP_ID, no key, no .env; only where to listen.
  app = spawn(process.execPath, ["dist/main.js"], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", PORT: String(port), HOST: "127.0.0.1" },
    stdio: "ignore",
  });
  await waitFor(async () => (await fetch(`${url}/probot`)).status === 200, {
    timeoutMs: 30_000,
    what: "the setup page",
  });
});

afterAll(() => {
  app?.kill("SIGTERM");
});

describe("npm start before the GitHub App exists", () => {
  it("serves Probot's setup page with the manifest from app.yml", async () => {
    const page = await (await fetch(`${url}/probot`)).text();
    const manifest = /id="manifest" value='([^']+)'/.exec(page)?.[1];
    expect(manifest).toBeDefined();
    const parsed = JSON.parse(manifest ?? "{}") as {
      name: string;
      default_events: string[];
      default_permissions: Record<string, string>;
      redirect_url: string;
    };
    expect(parsed.name).toBe("runnerhub");
    expect(parsed.default_events).toEqual(["workflow_job"]);
    expect(parsed.default_permissions).toMatchObject({
      organization_self_hosted_runners: "write",
      administration: "write",
      actions: "write",
    });
    expect(parsed.redirect_url).toBe(`${url}/probot/setup`);
  });
});
