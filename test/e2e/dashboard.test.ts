import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../sim/github-simulator.js";
import { startStack, stubPool, type Stack } from "./support/stack.js";
import { runCli } from "./support/cli.js";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TOKEN = "e2e-dashboard-token-0123456789abcdef";
/** Debian's chromium (TESTING.md); playwright cannot download a browser here. */
const CHROMIUM = process.env.RUNNERHUB_TEST_CHROMIUM ?? "/usr/bin/chromium";
/** Without the background-networking flags Chromium keeps trying to reach the internet. */
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const SHOTS = path.resolve(REPO_ROOT, process.env.RUNNERHUB_TEST_RESULTS ?? "test-results", "dashboard");
const LIVE_TIMEOUT_MS = 30_000;

let stack: Stack;
let browser: Browser;
let context: BrowserContext;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) or set RUNNERHUB_TEST_CHROMIUM`,
    );
  }
  mkdirSync(SHOTS, { recursive: true });
  stack = await startStack({
    pools: [
      stubPool({ name: "linux", maxRunners: 3 }),
      stubPool({ name: "gpu", labels: ["self-hosted", "gpu"], maxRunners: 1 }),
    ],
    env: { ADMIN_TOKEN: TOKEN, RUNNERHUB_STOP_GRACE: "1s" },
  });
  // launch() gives every run a fresh, throwaway profile.
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

const cli = (args: string[]) => runCli(args, { RUNNERHUB_URL: stack.app.url, ADMIN_TOKEN: TOKEN });

describe("the dashboard in a browser", () => {
  it("sends a browser without a session to the login form and refuses a wrong token", async () => {
    const page = await context.newPage();
    await page.goto(`${stack.app.url}/admin`);
    expect(new URL(page.url()).pathname).toBe("/admin/login");
    await page.getByLabel("Admin token").fill(`${TOKEN}-wrong`);
    const [answer] = await Promise.all([
      page.waitForResponse(
        (response) => response.url().endsWith("/admin/login") && response.request().method() === "POST",
      ),
      page.getByRole("button", { name: "Log in" }).click(),
    ]);
    expect(answer.status()).toBe(401);
    await expect(page.getByRole("alert").textContent()).resolves.toBe("Wrong admin token.");
    expect(await context.cookies()).toEqual([]);
    await shot(page, "1-login-refused");
    await page.close();
  });

  it("logs in, shows the pools, and shows a runner appear, take a job and go, without a reload", async () => {
    const page = await context.newPage();
    await page.goto(`${stack.app.url}/admin`);
    await page.getByLabel("Admin token").fill(TOKEN);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL(`${stack.app.url}/admin`);

    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ name: "runnerhub_session", httpOnly: true, sameSite: "Strict", path: "/admin" });
    expect(cookie?.value).not.toContain(TOKEN);

    await expect(page.getByRole("heading", { name: "Pools" }).isVisible()).resolves.toBe(true);
    const pools = page.locator("#pools tbody tr");
    await expect(pools.evaluateAll((rows) => rows.map((row) => row.getAttribute("data-pool")))).resolves.toEqual([
      "linux",
      "gpu",
    ]);
    await page.locator("#live-status", { hasText: "Live" }).waitFor({ timeout: LIVE_TIMEOUT_MS });
    await shot(page, "2-logged-in");

    // A mark on the window: a reload would wipe it.
    await page.evaluate("document.documentElement.setAttribute('data-loaded-once', 'yes')");

    const job = await stack.sim.queueJob({
      owner: "acme",
      repo: "web",
      labels: ["self-hosted", "linux"],
      behavior: { kind: "hang" },
    });
    const row = page.locator("#runners tbody tr[data-runner]");
    await row.first().waitFor({ timeout: LIVE_TIMEOUT_MS });
    const runnerName = (await row.first().getAttribute("data-runner")) ?? "";
    expect(runnerName).toMatch(/^linux-[0-9a-f]{8}$/);
    await page
      .locator(`#events li[data-kind="queued"]`, { hasText: `job ${job.id}` })
      .waitFor({ timeout: LIVE_TIMEOUT_MS });
    await page
      .locator(`#events li[data-kind="runner-created"][data-runner="${runnerName}"]`)
      .waitFor({ timeout: LIVE_TIMEOUT_MS });

    const busy = page.locator(`#runners tr[data-runner="${runnerName}"][data-state="busy"]`);
    await busy.waitFor({ timeout: LIVE_TIMEOUT_MS });
    await expect(busy.locator("td").allTextContents()).resolves.toEqual(
      expect.arrayContaining(["linux", "e2e", String(job.id), "acme/web"]),
    );
    await page
      .locator(`#events li[data-kind="took-job"][data-runner="${runnerName}"]`)
      .waitFor({ timeout: LIVE_TIMEOUT_MS });
    await expect(page.locator('#pools tr[data-pool="linux"] td').nth(5).textContent()).resolves.toBe("1");
    await shot(page, "3-runner-busy");

    // The terminal view shows the same moment.
    const top = await cli(["top", "--once"]);
    expect(top.code, top.stderr).toBe(0);
    expect(top.stdout).toMatch(
      new RegExp(`^${runnerName}\\s+linux\\s+e2e\\s+busy\\s+\\S+\\s+${job.id}\\s+acme/web$`, "m"),
    );

    // Cancelling the hanging job ends it; runnerhub stops the runner after the grace period.
    await stack.sim.cancelJob(job.id);
    await page
      .locator(`#runners tr[data-runner="${runnerName}"]`)
      .waitFor({ state: "detached", timeout: LIVE_TIMEOUT_MS });
    await page
      .locator(`#events li[data-kind="completed"][data-runner="${runnerName}"]`, { hasText: "cancelled" })
      .waitFor({ timeout: LIVE_TIMEOUT_MS });
    await page
      .locator(`#events li[data-kind="removed"][data-runner="${runnerName}"]`, { hasText: "job-completed" })
      .waitFor({ timeout: LIVE_TIMEOUT_MS });
    await shot(page, "4-runner-gone");
    expect(await page.locator("html").getAttribute("data-loaded-once")).toBe("yes");

    // The runner's page keeps its exit record and timeline.
    await page.locator(`#events li[data-kind="removed"] a`, { hasText: runnerName }).first().click();
    await page.waitForURL(`${stack.app.url}/admin/runners/${runnerName}`);
    await expect(page.getByRole("heading", { name: `Runner ${runnerName}` }).isVisible()).resolves.toBe(true);
    const facts = await page.locator("section dl").first().textContent();
    expect(facts).toContain("job-completed");
    expect(facts).toContain("143");
    await shot(page, "5-runner-page");
    await page.close();
  });

  it("draws each pool's last hour: pickup time, and runners by state with demand and the warm target", async () => {
    const page = await context.newPage();
    const refused: string[] = [];
    page.on("console", (message) => {
      if (message.text().includes("Content Security Policy")) refused.push(message.text());
    });
    await page.goto(`${stack.app.url}/admin`);
    await page.locator("#live-status", { hasText: "Live" }).waitFor({ timeout: LIVE_TIMEOUT_MS });
    await Promise.all(
      [1, 2, 3].map(() =>
        stack.sim.queueJob({
          owner: "acme",
          repo: "web",
          labels: ["self-hosted", "linux"],
          behavior: { kind: "run", seconds: 20 },
        }),
      ),
    );

    // Every pickup shows at once (the page updates live); a sample every 15 s catches the runners busy.
    const pickup = page.locator('#pools figure[data-chart="pickup"][data-pool="linux"]');
    await pickup
      .locator("desc", { hasText: /^[3-9] jobs picked up in the last hour/ })
      .waitFor({ state: "attached", timeout: LIVE_TIMEOUT_MS });
    expect(await pickup.locator("circle.dot.p50").count()).toBeGreaterThan(0);
    expect(await pickup.locator("circle.dot.p95").count()).toBeGreaterThan(0);
    const runners = page.locator('#pools figure[data-chart="runners"][data-pool="linux"]');
    await runners
      .locator("desc", { hasText: /: [1-3] busy, .*warm target 0\.$/ })
      .waitFor({ state: "attached", timeout: LIVE_TIMEOUT_MS });
    expect(Number(await runners.getAttribute("data-points"))).toBeGreaterThan(1);
    for (const part of ["path.band.busy", "path.line.waiting", "path.line.target"]) {
      await expect(runners.locator(part).count(), part).resolves.toBe(1);
    }
    await shot(page, "6-charts");
    // The charts are drawn, not just present: the busy band covers an area.
    const band = runners.locator("path.band.busy");
    const height = await page.evaluate(
      `document.querySelector('#pools figure[data-chart="runners"][data-pool="linux"] path.band.busy').getBBox().height`,
    );
    expect(height, (await band.getAttribute("d")) ?? "").toBeGreaterThan(0);
    await expect(
      page.locator('#pools figure[data-chart="runners"][data-pool="gpu"]').getAttribute("data-points"),
    ).resolves.not.toBeNull();
    await expect(page.locator('#pools [data-pool="gpu"] .chart-empty').textContent()).resolves.toContain(
      "No job of pool gpu was picked up",
    );
    await expect(page.locator('#pools tr[data-pool="linux"] td[data-warm]').textContent()).resolves.toMatch(
      /^\d+ \/ 0$/,
    );
    expect(refused).toEqual([]);
    await page.close();
  });

  it("links Bull Board, which opens with the session cookie and works under its CSP", async () => {
    const page = await context.newPage();
    const refused: string[] = [];
    page.on("console", (message) => {
      if (message.text().includes("Content Security Policy")) refused.push(message.text());
    });
    await page.goto(`${stack.app.url}/admin`);
    await page.getByRole("link", { name: "Queues (Bull Board)" }).click();
    await page.waitForURL(`${stack.app.url}/admin/queues`);
    await page.getByText("provision", { exact: true }).first().waitFor({ timeout: LIVE_TIMEOUT_MS });
    await page.getByText("Loading...").waitFor({ state: "hidden", timeout: LIVE_TIMEOUT_MS });
    // The policy is in force (its Google Fonts stylesheet, another origin, is refused) and
    // nothing of the board's own is refused.
    expect(refused.some((text) => text.includes("https://fonts.googleapis.com/"))).toBe(true);
    expect(refused.filter((text) => !text.includes("https://fonts.googleapis.com/"))).toEqual([]);
    await shot(page, "7-bull-board");
    await page.close();
  });

  it("logs out", async () => {
    const page = await context.newPage();
    await page.goto(`${stack.app.url}/admin`);
    await page.getByRole("button", { name: "Log out" }).click();
    await page.waitForURL(/\/admin\/login$/);
    await page.goto(`${stack.app.url}/admin`);
    expect(new URL(page.url()).pathname).toBe("/admin/login");
    await page.close();
  });
});

describe("the session cookie", () => {
  it("is not accepted for writes to the API, which need the bearer token", async () => {
    const login = await fetch(`${stack.app.url}/admin/login`, {
      method: "POST",
      body: new URLSearchParams({ token: TOKEN }),
      redirect: "manual",
    });
    expect(login.status).toBe(303);
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    expect((await fetch(`${stack.app.url}/admin/overview`, { headers: { cookie } })).status).toBe(200);
    const write = await fetch(`${stack.app.url}/admin/pools/linux`, {
      method: "PATCH",
      headers: { cookie, "content-type": "application/json" },
      body: JSON.stringify({ maxRunners: 1 }),
    });
    expect(write.status).toBe(401);
  });
});

describe("waiting for demand", () => {
  it("shows the same picture in the terminal", async () => {
    await waitFor(async () => (await stack.containers()).length === 0, {
      timeoutMs: 20_000,
      what: "no runner containers",
    });
    const top = await cli(["top", "--once"]);
    expect(top.code, top.stderr).toBe(0);
    // MAX, then MIN-IDLE, STARTING, IDLE, TARGET, BUSY, WAITING, PARKED and SLOTS.
    expect(top.stdout).toMatch(/^linux\s+3\s+0\s+0\s+0\s+0\s+0\s+0\s+0\s+0\/3 \[\.{10}\]$/m);
  });
});
