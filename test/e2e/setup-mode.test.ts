import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../sim/github-simulator.js";
import { freePort } from "../support/app-process.js";
import { testPrivateKey } from "../integration/support/context.js";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SETUP_TOKEN = "e2e-setup-token-0123456789abcdef";
/** What the settings file held before: settings of the operator's own, no App yet. */
const BEFORE = "ADMIN_TOKEN=kept-admin-token-0123456789\n";

interface Started {
  app: ChildProcess;
  url: string;
  output: string[];
  exited: Promise<number | null>;
}

/** The built app as a fresh checkout starts it: no APP_ID, no key; its settings file in a temporary folder. */
async function start(env: Record<string, string>): Promise<Started> {
  const port = await freePort();
  const app = spawn(process.execPath, ["dist/main.js"], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/root",
      PORT: String(port),
      HOST: "127.0.0.1",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  for (const stream of [app.stdout, app.stderr]) stream?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<number | null>((resolve) => app.once("exit", (code) => resolve(code)));
  return { app, url: `http://127.0.0.1:${port}`, output, exited };
}

let setup: Started;
let settingsFile: string;

beforeAll(async () => {
  settingsFile = path.join(mkdtempSync(path.join(tmpdir(), "runnerhub-setup-")), "runnerhub.env");
  writeFileSync(settingsFile, BEFORE, { mode: 0o600 });
  setup = await start({
    RUNNERHUB_ENV_FILE: settingsFile,
    RUNNERHUB_SETUP_TOKEN: SETUP_TOKEN,
    RUNNERHUB_CONFIG: path.join(path.dirname(settingsFile), "no-pools.yml"),
  });
  await waitFor(async () => (await fetch(`${setup.url}/healthz`).catch(() => undefined))?.status === 200, {
    timeoutMs: 30_000,
    what: `the setup server (output: ${setup.output.join("")})`,
  });
});

afterAll(async () => {
  setup?.app.kill("SIGTERM");
  await setup?.exited;
});

const importBody = JSON.stringify({ appId: 4242, pem: testPrivateKey, webhook_secret: "someone-elses-secret" });

describe("npm start before the GitHub App exists", () => {
  it("answers /healthz, and /readyz with 503 and the reason", async () => {
    expect((await fetch(`${setup.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${setup.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { reason: string }).reason).toMatch(
      /^setup: no GitHub App yet; open the setup URL/,
    );
  });

  it("refuses every setup route without the token (401) and with a wrong one (403), and writes nothing", async () => {
    const routes: { method: string; path: string; body?: string }[] = [
      { method: "GET", path: "/probot" },
      { method: "GET", path: "/probot/import" },
      { method: "GET", path: "/probot/setup?code=abc" },
      { method: "POST", path: "/probot/import", body: importBody },
    ];
    const wrong = "wrong-setup-token-0123456789abcdef";
    for (const route of routes) {
      const ask = (suffix: string, headers: Record<string, string> = {}) =>
        fetch(`${setup.url}${route.path}${suffix}`, {
          method: route.method,
          headers: { "content-type": "application/json", ...headers },
          body: route.body,
          redirect: "manual",
        });
      const join = route.path.includes("?") ? "&" : "?";
      const none = await ask("");
      expect(none.status, `${route.method} ${route.path}`).toBe(401);
      expect(none.headers.get("set-cookie")).toBeNull();
      for (const answer of [
        await ask(`${join}token=${wrong}`),
        await ask(`${join}state=${wrong}`),
        await ask("", { authorization: `Bearer ${wrong}` }),
        await ask("", { cookie: `runnerhub_setup=${wrong}` }),
        await ask(`${join}token=${SETUP_TOKEN.slice(0, -1)}`),
      ]) {
        expect(answer.status, `${route.method} ${route.path}`).toBe(403);
        expect(answer.headers.get("set-cookie")).toBeNull();
      }
    }
    expect(readFileSync(settingsFile, "utf8")).toBe(BEFORE);
    expect((await fetch(`${setup.url}/readyz`)).status).toBe(503);
    expect(setup.output.join("")).toContain("setup request refused");
    expect(setup.output.join("")).not.toContain(wrong);
  });

  it("refuses a body over the bound with 413, token or not, and writes nothing", async () => {
    const huge = JSON.stringify({ appId: 4242, pem: "x".repeat(200 * 1024), webhook_secret: "s" });
    const answer = await fetch(`${setup.url}/probot/import`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${SETUP_TOKEN}` },
      body: huge,
    });
    expect(answer.status).toBe(413);
    expect(readFileSync(settingsFile, "utf8")).toBe(BEFORE);
  });

  it("serves the manifest page with the token, sets the cookie, and sends GitHub the token as state", async () => {
    const answer = await fetch(`${setup.url}/probot?token=${SETUP_TOKEN}`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get("set-cookie")).toBe(
      `runnerhub_setup=${SETUP_TOKEN}; Path=/probot; HttpOnly; SameSite=Strict`,
    );
    expect(answer.headers.get("referrer-policy")).toBe("no-referrer");
    const page = await answer.text();
    const action = /<form action="([^"]+)" method="post">/.exec(page)?.[1]?.replaceAll("&amp;", "&");
    expect(action).toBe(`https://github.com/settings/apps/new?state=${SETUP_TOKEN}`);
    const manifest = /id="manifest" value="([^"]+)"/
      .exec(page)?.[1]
      ?.replaceAll("&quot;", '"')
      .replaceAll("&#39;", "'")
      .replaceAll("&lt;", "<")
      .replaceAll("&gt;", ">")
      .replaceAll("&amp;", "&");
    const parsed = JSON.parse(manifest ?? "{}") as {
      name: string;
      default_events: string[];
      default_permissions: Record<string, string>;
      redirect_url: string;
      hook_attributes: { url: string };
    };
    expect(parsed.name).toBe("runnerhub");
    expect(parsed.default_events).toEqual(["workflow_job"]);
    expect(parsed.default_permissions).toMatchObject({
      organization_self_hosted_runners: "write",
      administration: "write",
      actions: "write",
    });
    expect(parsed.redirect_url).toBe(`${setup.url}/probot/setup`);
    expect(parsed.hook_attributes.url).toBe(`${setup.url}/`);
    // The cookie alone opens the next steps.
    const importPage = await fetch(`${setup.url}/probot/import`, {
      headers: { cookie: `runnerhub_setup=${SETUP_TOKEN}` },
    });
    expect(importPage.status).toBe(200);
    expect(readFileSync(settingsFile, "utf8")).toBe(BEFORE);
  });

  it("saves an existing App's settings for whoever holds the token (the cookie), next to the operator's own", async () => {
    const answer = await fetch(`${setup.url}/probot/import`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie: `runnerhub_setup=${SETUP_TOKEN}` },
      body: importBody,
    });
    expect(answer.status).toBe(200);
    const saved = readFileSync(settingsFile, "utf8");
    expect(saved).toMatch(/^APP_ID=4242$/m);
    expect(saved).toContain(BEFORE.trim());
    expect(statSync(settingsFile).mode & 0o777).toBe(0o600);
    // It goes on to start for real, and stops there: there is no pools file.
    expect(await setup.exited).toBe(1);
    expect(setup.output.join("")).not.toContain(SETUP_TOKEN);
    expect(setup.output.join("")).not.toContain("BEGIN RSA PRIVATE KEY");
  });
});

describe("start-up refusals", () => {
  it("stops with an error naming the settings file when it holds an App but not all of it", async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "runnerhub-setup-")), "runnerhub.env");
    writeFileSync(file, "APP_ID=4242\nWEBHOOK_SECRET=s3cret\n", { mode: 0o600 });
    const started = await start({ RUNNERHUB_ENV_FILE: file });
    expect(await started.exited).toBe(1);
    const output = started.output.join("");
    expect(output).toContain(`Invalid configuration in ${file}`);
    expect(output).toContain("holds APP_ID, WEBHOOK_SECRET, yet the private key");
    expect(existsSync(file) && readFileSync(file, "utf8")).toBe("APP_ID=4242\nWEBHOOK_SECRET=s3cret\n");
  });

  it("refuses a setup token shorter than 16 characters", async () => {
    const started = await start({
      RUNNERHUB_ENV_FILE: path.join(mkdtempSync(path.join(tmpdir(), "runnerhub-setup-")), "runnerhub.env"),
      RUNNERHUB_SETUP_TOKEN: "short",
    });
    expect(await started.exited).toBe(1);
    expect(started.output.join("")).toContain("RUNNERHUB_SETUP_TOKEN: use at least 16 characters");
  });
});
