import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Octokit } from "@octokit/rest";
import { Webhooks } from "@octokit/webhooks";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GitHubSimulator } from "./github-simulator.js";

const SECRET = "sim-test-secret";
const JWT = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOjF9.c2lnbmF0dXJl";

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  payload: Record<string, unknown>;
  signatureValid: boolean;
}

/** Stands in for the app: verifies signatures like Probot does (400 when they do not match). */
class Receiver {
  readonly received: Received[] = [];
  private readonly webhooks = new Webhooks({ secret: SECRET });

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<Receiver> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const receiver = new Receiver(
      server,
      `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/github/webhooks`,
    );
    server.on("request", (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const signature = req.headers["x-hub-signature-256"];
        void receiver.webhooks
          .verify(body, typeof signature === "string" ? signature : "")
          .catch(() => false)
          .then((signatureValid) => {
            receiver.received.push({
              headers: req.headers,
              body,
              payload: JSON.parse(body) as Record<string, unknown>,
              signatureValid,
            });
            res.writeHead(signatureValid ? 200 : 400).end();
          });
      });
    });
    return receiver;
  }

  ofAction(action: string): Received[] {
    return this.received.filter((r) => r.payload["action"] === action);
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

type Json = Record<string, unknown>;

function field(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== "object" || current === null) return undefined;
    current = (current as Json)[key];
  }
  return current;
}

let sim: GitHubSimulator;
let receiver: Receiver;
let token: string;

async function api(
  method: string,
  path: string,
  opts: { body?: unknown; auth?: string | null } = {},
): Promise<{ status: number; json: unknown; headers: Headers }> {
  const headers: Record<string, string> = { accept: "application/vnd.github+json" };
  const auth = opts.auth === undefined ? `token ${token}` : opts.auth;
  if (auth !== null) headers["authorization"] = auth;
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${sim.url}/api/v3${path}`, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  return { status: res.status, json: text === "" ? undefined : (JSON.parse(text) as unknown), headers: res.headers };
}

async function runnerCall(id: number, verb: "poll" | "complete"): Promise<{ status: number; text: string }> {
  const res = await fetch(`${sim.url}/_sim/runners/${id}/${verb}`, { method: "POST" });
  return { status: res.status, text: (await res.text()).trim() };
}

async function jitRunner(scopePath: string, name: string, labels: string[]): Promise<{ id: number; config: string }> {
  const res = await api("POST", `${scopePath}/actions/runners/generate-jitconfig`, {
    body: { name, runner_group_id: 1, labels },
  });
  expect(res.status).toBe(201);
  return {
    id: field(res.json, "runner", "id") as number,
    config: field(res.json, "encoded_jit_config") as string,
  };
}

beforeEach(async () => {
  receiver = await Receiver.start();
  sim = await GitHubSimulator.start({ webhookSecret: SECRET });
  sim.setWebhookUrl(receiver.url);
  const res = await api("POST", "/app/installations/1/access_tokens", { auth: `Bearer ${JWT}` });
  token = field(res.json, "token") as string;
});

afterEach(async () => {
  await sim.stop();
  await receiver.stop();
});

describe("GitHubSimulator API", () => {
  it("listens on loopback and exposes the GHES host", () => {
    expect(sim.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(sim.host).toBe(sim.url.slice("http://".length));
  });

  it("issues installation tokens only for an app JWT and checks the token on API routes", async () => {
    expect((await api("POST", "/app/installations/1/access_tokens", { auth: null })).status).toBe(401);
    expect((await api("POST", "/app/installations/1/access_tokens", { auth: "Bearer not-a-jwt" })).status).toBe(401);
    const issued = await api("POST", "/app/installations/7/access_tokens", { auth: `Bearer ${JWT}` });
    expect(issued.status).toBe(201);
    expect(field(issued.json, "token")).toEqual(expect.any(String));
    expect(Date.parse(field(issued.json, "expires_at") as string)).toBeGreaterThan(Date.now());

    expect((await api("GET", "/orgs/acme/actions/runners", { auth: null })).status).toBe(401);
    expect((await api("GET", "/orgs/acme/actions/runners", { auth: "token ghs_forged" })).status).toBe(401);
    expect((await api("GET", "/orgs/acme/actions/runners")).status).toBe(200);
    expect((await api("GET", "/app/hook/deliveries", { auth: `token ${token}` })).status).toBe(401);
  });

  it("plays the manifest flow: the create-App form sends the browser back with a one-time code and the state", async () => {
    const withApp = await GitHubSimulator.start({ webhookSecret: SECRET, manifestApp: { id: 77, pem: "PEM" } });
    try {
      const manifest = JSON.stringify({ name: "runnerhub", redirect_url: "http://127.0.0.1:1/probot/setup" });
      const created = await fetch(`${withApp.url}/organizations/acme/settings/apps/new?state=s1`, {
        method: "POST",
        body: new URLSearchParams({ manifest }),
        redirect: "manual",
      });
      expect(created.status).toBe(302);
      const back = new URL(created.headers.get("location") ?? "");
      expect(`${back.origin}${back.pathname}`).toBe("http://127.0.0.1:1/probot/setup");
      expect(back.searchParams.get("state")).toBe("s1");
      expect(withApp.manifests).toEqual([
        { path: "/organizations/acme/settings/apps/new", state: "s1", manifest: JSON.parse(manifest) },
      ]);
      const convert = () =>
        fetch(`${withApp.url}/api/v3/app-manifests/${back.searchParams.get("code")}/conversions`, { method: "POST" });
      const converted = await convert();
      expect(converted.status).toBe(201);
      expect(await converted.json()).toMatchObject({ id: 77, pem: "PEM", webhook_secret: SECRET });
      expect((await convert()).status).toBe(404);
    } finally {
      await withApp.stop();
    }
    // Without an App to create, the flow is not there.
    expect((await fetch(`${sim.url}/settings/apps/new`, { method: "POST", body: "manifest=%7B%7D" })).status).toBe(404);
  });

  it("answers unknown routes with 404 Not Found", async () => {
    const res = await api("GET", "/nothing/here");
    expect(res.status).toBe(404);
    expect(res.json).toEqual({ message: "Not Found" });
  });

  it("generates a JIT config, then refuses the same name in the same scope", async () => {
    const body = { name: "rh-1", runner_group_id: 1, labels: ["self-hosted", "linux"] };
    const first = await api("POST", "/orgs/acme/actions/runners/generate-jitconfig", { body });
    expect(first.status).toBe(201);
    expect(field(first.json, "runner")).toMatchObject({
      name: "rh-1",
      os: "linux",
      status: "offline",
      busy: false,
      ephemeral: true,
      runner_group_id: 1,
      labels: [
        { name: "self-hosted", type: "custom" },
        { name: "linux", type: "custom" },
      ],
    });
    const id = field(first.json, "runner", "id") as number;
    const decoded = Buffer.from(field(first.json, "encoded_jit_config") as string, "base64").toString("ascii");
    expect(decoded).toBe(`${sim.url} ${id}`);

    expect((await api("POST", "/orgs/acme/actions/runners/generate-jitconfig", { body })).status).toBe(409);
    expect((await api("POST", "/orgs/other/actions/runners/generate-jitconfig", { body })).status).toBe(201);
    expect((await api("POST", "/repos/acme/app/actions/runners/generate-jitconfig", { body })).status).toBe(201);
    expect(sim.runners().map((r) => r.scope)).toEqual([
      { kind: "org", org: "acme" },
      { kind: "org", org: "other" },
      { kind: "repo", owner: "acme", repo: "app" },
    ]);
    expect(sim.runners()[0]).toMatchObject({ online: false, busy: false, labels: ["self-hosted", "linux"] });
  });

  it("holds chosen requests open without an answer, the set number of times, registering nothing", async () => {
    sim.hangRequests({ method: "POST", path: /\/actions\/runners\/generate-jitconfig$/, times: 1 });
    const body = { name: "rh-held", runner_group_id: 1, labels: ["self-hosted"] };
    const aborted = new AbortController();
    const held = fetch(`${sim.url}/api/v3/orgs/acme/actions/runners/generate-jitconfig`, {
      method: "POST",
      headers: { authorization: `token ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: aborted.signal,
    });
    await sim.waitFor(() => sim.heldRequests().open === 1, { timeoutMs: 5_000, what: "the request to be held" });
    // Other routes still answer while it is held, and the next JIT request is answered.
    expect((await api("GET", "/orgs/acme/actions/runners")).status).toBe(200);
    expect(sim.runners()).toEqual([]);
    expect((await api("POST", "/orgs/acme/actions/runners/generate-jitconfig", { body })).status).toBe(201);
    aborted.abort();
    await expect(held).rejects.toThrow();
    await sim.waitFor(() => sim.heldRequests().open === 0, { timeoutMs: 5_000, what: "the held request to close" });
    expect(sim.heldRequests()).toEqual({ open: 0, total: 1 });
  });

  it("rejects invalid JIT requests with 422", async () => {
    const path = "/orgs/acme/actions/runners/generate-jitconfig";
    const bad = [
      { runner_group_id: 1, labels: ["x"] },
      { name: "a", runner_group_id: 1 },
      { name: "a", runner_group_id: 1, labels: [] },
      { name: "a", runner_group_id: 1, labels: Array.from({ length: 101 }, (_, i) => `l${i}`) },
      { name: "a", runner_group_id: 99, labels: ["x"] },
    ];
    for (const body of bad) {
      expect((await api("POST", path, { body })).status, JSON.stringify(body).slice(0, 60)).toBe(422);
    }
    const hundred = Array.from({ length: 100 }, (_, i) => `l${i}`);
    expect((await api("POST", path, { body: { name: "a", runner_group_id: 1, labels: hundred } })).status).toBe(201);
  });

  it("gives registration tokens for orgs and repos", async () => {
    for (const path of ["/orgs/acme", "/repos/acme/app"]) {
      const res = await api("POST", `${path}/actions/runners/registration-token`);
      expect(res.status).toBe(201);
      expect(res.json).toMatchObject({ token: expect.any(String), expires_at: expect.any(String) });
    }
  });

  it("paginates the runner list with Link headers and filters by name", async () => {
    for (let i = 1; i <= 5; i++) await jitRunner("/orgs/acme", `rh-${i}`, ["self-hosted"]);
    await jitRunner("/orgs/other", "rh-x", ["self-hosted"]);

    const page2 = await api("GET", "/orgs/acme/actions/runners?per_page=2&page=2");
    expect(field(page2.json, "total_count")).toBe(5);
    expect((field(page2.json, "runners") as Json[]).map((r) => r["name"])).toEqual(["rh-3", "rh-4"]);
    expect(page2.headers.get("link")).toContain('rel="next"');
    const page3 = await api("GET", "/orgs/acme/actions/runners?per_page=2&page=3");
    expect((field(page3.json, "runners") as Json[]).map((r) => r["name"])).toEqual(["rh-5"]);
    expect(page3.headers.get("link")).not.toContain('rel="next"');

    const byName = await api("GET", "/orgs/acme/actions/runners?name=rh-4");
    expect(field(byName.json, "total_count")).toBe(1);
    expect(field(byName.json, "runners")).toMatchObject([
      { name: "rh-4", status: "offline", busy: false, ephemeral: true },
    ]);

    const octokit = new Octokit({ baseUrl: `${sim.url}/api/v3`, auth: token });
    const all = await octokit.paginate(octokit.rest.actions.listSelfHostedRunnersForOrg, { org: "acme", per_page: 2 });
    expect(all.map((r) => r.name)).toEqual(["rh-1", "rh-2", "rh-3", "rh-4", "rh-5"]);
  });

  it("gets and deletes runners, refusing a busy one", async () => {
    const idle = await jitRunner("/orgs/acme", "idle", ["self-hosted"]);
    const busy = await jitRunner("/orgs/acme", "busy", ["self-hosted", "gpu"]);
    await sim.queueJob({ owner: "acme", repo: "app", labels: ["self-hosted", "gpu"] });
    expect((await runnerCall(busy.id, "poll")).text).toBe("run 1");

    expect((await api("GET", `/orgs/acme/actions/runners/${idle.id}`)).json).toMatchObject({
      name: "idle",
      busy: false,
    });
    expect((await api("GET", `/orgs/other/actions/runners/${idle.id}`)).status).toBe(404);
    expect((await api("GET", "/orgs/acme/actions/runners/99999")).status).toBe(404);
    const refused = await api("DELETE", `/orgs/acme/actions/runners/${busy.id}`);
    expect(refused.status).toBe(422);
    expect(field(refused.json, "message")).toEqual(expect.any(String));
    expect((await api("DELETE", `/orgs/acme/actions/runners/${idle.id}`)).status).toBe(204);
    expect((await api("DELETE", `/orgs/acme/actions/runners/${idle.id}`)).status).toBe(404);
    expect((await runnerCall(idle.id, "poll")).status).toBe(404);
  });

  it("lists runner groups", async () => {
    const res = await api("GET", "/orgs/acme/actions/runner-groups");
    expect(res.json).toMatchObject({
      total_count: 1,
      runner_groups: [{ id: 1, name: "Default", default: true, visibility: "all" }],
    });
  });

  it("records every request without its query string", async () => {
    await api("GET", "/orgs/acme/actions/runners?per_page=100");
    expect(sim.requests.at(-1)).toMatchObject({ method: "GET", path: "/api/v3/orgs/acme/actions/runners" });
  });
});

describe("GitHubSimulator webhooks and jobs", () => {
  it("sends a signed queued webhook shaped like GitHub's", async () => {
    const job = await sim.queueJob({ owner: "acme", repo: "app", labels: ["self-hosted", "linux"], installationId: 5 });
    expect(job).toMatchObject({ status: "queued", runnerId: null, labels: ["self-hosted", "linux"] });
    const [hook] = receiver.received;
    expect(hook?.signatureValid).toBe(true);
    expect(hook?.headers).toMatchObject({
      "x-github-event": "workflow_job",
      "x-github-hook-id": expect.stringMatching(/^\d+$/),
      "content-type": "application/json",
      "user-agent": expect.stringMatching(/^GitHub-Hookshot\//),
    });
    expect(hook?.headers["x-github-delivery"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(hook?.payload).toMatchObject({
      action: "queued",
      workflow_job: {
        id: job.id,
        run_id: job.runId,
        run_attempt: 1,
        status: "queued",
        conclusion: null,
        labels: ["self-hosted", "linux"],
        runner_id: null,
        runner_name: null,
        runner_group_id: null,
        runner_group_name: null,
      },
      repository: { name: "app", full_name: "acme/app", owner: { login: "acme", type: "Organization" } },
      organization: { login: "acme" },
      installation: { id: 5, node_id: expect.any(String) },
      sender: { login: expect.any(String) },
    });
    const hosts = new Set(hook?.body.match(/[a-z]+:\/\/[^/"]+/g));
    expect([...hosts]).toEqual([sim.url, `git://${sim.host}`]);

    const fetched = await api("GET", `/repos/acme/app/actions/jobs/${job.id}`);
    expect(fetched.json).toMatchObject({
      id: job.id,
      status: "queued",
      runner_id: null,
      labels: ["self-hosted", "linux"],
    });
    expect((await api("GET", `/repos/acme/other/actions/jobs/${job.id}`)).status).toBe(404);
  });

  it("leaves out organization for a user's repository", async () => {
    await sim.queueJob({ owner: "alice", repo: "dotfiles", org: false, labels: ["self-hosted"] });
    const payload = receiver.received[0]?.payload;
    expect(payload).not.toHaveProperty("organization");
    expect(field(payload, "repository", "owner")).toMatchObject({ login: "alice", type: "User" });
  });

  it("forges a bad signature when asked, which the receiver rejects", async () => {
    const { status } = await sim.sendWebhook("workflow_job", { action: "queued" }, { secret: "wrong" });
    expect(status).toBe(400);
    expect(receiver.received[0]?.signatureValid).toBe(false);
    expect(sim.deliveries().at(-1)).toMatchObject({ statusCode: 400, status: "Invalid HTTP Response: 400" });
  });

  it("assigns a matching job on poll, sends in_progress, then completed on complete", async () => {
    const job = await sim.queueJob({
      owner: "acme",
      repo: "app",
      labels: ["self-hosted", "GPU"],
      behavior: { kind: "run", seconds: 3 },
    });
    const plain = await jitRunner("/orgs/acme", "plain", ["self-hosted", "linux"]);
    const gpu = await jitRunner("/orgs/acme", "gpu", ["self-hosted", "linux", "gpu"]);

    expect(await runnerCall(plain.id, "poll")).toEqual({ status: 200, text: "wait" });
    expect(sim.runners().find((r) => r.id === plain.id)).toMatchObject({ online: true, busy: false, jobId: null });
    expect(await runnerCall(gpu.id, "poll")).toEqual({ status: 200, text: "run 3" });
    expect(sim.getJob(job.id)).toMatchObject({
      status: "in_progress",
      runnerId: gpu.id,
      runnerName: "gpu",
      runnerGroupName: "Default",
    });
    expect(sim.runners().find((r) => r.id === gpu.id)).toMatchObject({ online: true, busy: true, jobId: job.id });

    const started = await sim.waitFor(() => receiver.ofAction("in_progress")[0], {
      timeoutMs: 5000,
      what: "in_progress webhook",
    });
    expect(started.signatureValid).toBe(true);
    expect(started.payload["workflow_job"]).toMatchObject({
      id: job.id,
      status: "in_progress",
      runner_id: gpu.id,
      runner_name: "gpu",
      runner_group_id: 1,
      runner_group_name: "Default",
    });
    const listed = await api("GET", `/orgs/acme/actions/runners/${gpu.id}`);
    expect(listed.json).toMatchObject({ status: "online", busy: true });

    expect(await runnerCall(gpu.id, "complete")).toEqual({ status: 200, text: "ok" });
    expect(sim.getJob(job.id)).toMatchObject({ status: "completed", conclusion: "success" });
    expect(sim.runners().map((r) => r.id)).toEqual([plain.id]);
    const done = await sim.waitFor(() => receiver.ofAction("completed")[0], {
      timeoutMs: 5000,
      what: "completed webhook",
    });
    expect(done.payload["workflow_job"]).toMatchObject({
      status: "completed",
      conclusion: "success",
      runner_id: gpu.id,
      runner_name: "gpu",
    });
    expect(await runnerCall(gpu.id, "poll")).toEqual({ status: 404, text: "gone" });
    expect((await api("GET", `/repos/acme/app/actions/jobs/${job.id}`)).json).toMatchObject({
      status: "completed",
      conclusion: "success",
    });
  });

  it("answers each job behaviour and hands out the oldest matching job first", async () => {
    const first = await sim.queueJob({ owner: "acme", repo: "app", labels: ["x"], behavior: { kind: "oom" } });
    const second = await sim.queueJob({
      owner: "acme",
      repo: "app",
      labels: ["x"],
      behavior: { kind: "crash", exitCode: 3 },
    });
    await sim.queueJob({ owner: "acme", repo: "app", labels: ["x"], behavior: { kind: "hang" } });
    const answers: string[] = [];
    for (const name of ["a", "b", "c"]) {
      const runner = await jitRunner("/orgs/acme", name, ["x"]);
      answers.push((await runnerCall(runner.id, "poll")).text);
    }
    expect(answers).toEqual(["oom", "crash 3", "hang"]);
    expect(sim.getJob(first.id)?.runnerName).toBe("a");
    expect(sim.getJob(second.id)?.runnerName).toBe("b");
  });

  it("keeps jobs within the runner's scope", async () => {
    const userJob = await sim.queueJob({ owner: "alice", repo: "dotfiles", org: false, labels: ["x"] });
    const otherRepoJob = await sim.queueJob({ owner: "acme", repo: "web", labels: ["x"] });
    const orgRunner = await jitRunner("/orgs/alice", "o", ["x"]);
    const repoRunner = await jitRunner("/repos/acme/app", "r", ["x"]);
    expect((await runnerCall(orgRunner.id, "poll")).text).toBe("wait");
    expect((await runnerCall(repoRunner.id, "poll")).text).toBe("wait");
    const userRunner = await jitRunner("/repos/alice/dotfiles", "u", ["x"]);
    expect((await runnerCall(userRunner.id, "poll")).text).toBe("run 1");
    expect(sim.getJob(userJob.id)?.runnerId).toBe(userRunner.id);
    const acmeRunner = await jitRunner("/orgs/acme", "a", ["x"]);
    expect((await runnerCall(acmeRunner.id, "poll")).text).toBe("run 1");
    expect(sim.getJob(otherRepoJob.id)?.runnerId).toBe(acmeRunner.id);
  });

  it("gives a runs-on group job only to runners of that group, naming no group or labels while it is queued", async () => {
    const other = await sim.queueJob({ owner: "acme", repo: "app", labels: [], group: "gpu-team" });
    const mine = await sim.queueJob({ owner: "acme", repo: "app", labels: [], group: "Default" });
    const runner = await jitRunner("/orgs/acme", "g", ["self-hosted"]);
    expect((await runnerCall(runner.id, "poll")).text).toBe("run 1");
    expect(sim.getJob(mine.id)).toMatchObject({ runnerId: runner.id, runnerGroupName: "Default" });
    expect(sim.getJob(other.id)?.status).toBe("queued");
    const [queued] = sim.deliveries().map((delivery) => JSON.parse(delivery.body) as { workflow_job: unknown });
    expect(queued?.workflow_job).toMatchObject({
      id: other.id,
      labels: [],
      runner_group_id: null,
      runner_group_name: null,
    });
  });

  it("cancels a queued job with a completed webhook without runner", async () => {
    const job = await sim.queueJob({ owner: "acme", repo: "app", labels: ["x"] });
    await sim.cancelJob(job.id);
    expect(sim.getJob(job.id)).toMatchObject({ status: "completed", conclusion: "cancelled" });
    const [hook] = receiver.ofAction("completed");
    expect(hook?.payload["workflow_job"]).toMatchObject({
      conclusion: "cancelled",
      runner_id: null,
      runner_name: null,
    });
  });

  it("fails the job of a lost runner and removes its registration", async () => {
    const job = await sim.queueJob({ owner: "acme", repo: "app", labels: ["x"], behavior: { kind: "oom" } });
    const runner = await jitRunner("/orgs/acme", "doomed", ["x"]);
    await runnerCall(runner.id, "poll");
    await sim.loseRunner(runner.id);
    expect(sim.getJob(job.id)).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(sim.runners()).toEqual([]);
  });

  it("re-runs a job once its run completed: a new job of the next attempt, queued by webhook", async () => {
    const job = await sim.queueJob({
      owner: "acme",
      repo: "app",
      labels: ["x"],
      behavior: { kind: "memory", megabytes: 48 },
    });
    const runner = await jitRunner("/orgs/acme", "small", ["x"]);
    expect((await runnerCall(runner.id, "poll")).text).toBe("memory 48");
    const refused = await api("POST", `/repos/acme/app/actions/jobs/${job.id}/rerun`);
    expect(refused).toMatchObject({
      status: 403,
      json: { message: "The workflow run containing this job is already running" },
    });

    await sim.loseRunner(runner.id);
    const accepted = await api("POST", `/repos/acme/app/actions/jobs/${job.id}/rerun`);
    expect(accepted.status).toBe(201);
    const again = sim.jobs().find((j) => j.runId === job.runId && j.runAttempt === 2);
    expect(again).toMatchObject({ status: "queued", name: job.name, labels: ["x"], behavior: job.behavior });
    expect(again?.id).not.toBe(job.id);
    const queued = await sim.waitFor(
      () => receiver.ofAction("queued").find((r) => field(r.payload, "workflow_job", "id") === again?.id),
      { timeoutMs: 5000, what: "the re-run's queued webhook" },
    );
    expect(queued.payload["workflow_job"]).toMatchObject({ run_id: job.runId, run_attempt: 2, name: job.name });
  });

  it("records a lost delivery as failed and redelivers it with the same guid", async () => {
    const job = await sim.queueJob({ owner: "acme", repo: "app", labels: ["x"], deliver: false });
    expect(receiver.received).toEqual([]);

    const listed = await api("GET", "/app/hook/deliveries?per_page=100", { auth: `Bearer ${JWT}` });
    expect(listed.status).toBe(200);
    const [failed] = listed.json as Json[];
    expect(failed).toMatchObject({
      redelivery: false,
      status: "Invalid HTTP Response: 502",
      status_code: 502,
      event: "workflow_job",
      action: "queued",
      installation_id: 1,
      repository_id: sim.getJob(job.id)?.repositoryId,
    });

    const attempt = await api("POST", `/app/hook/deliveries/${String(failed?.["id"])}/attempts`, {
      auth: `Bearer ${JWT}`,
    });
    expect(attempt.status).toBe(202);
    const hook = await sim.waitFor(() => receiver.received[0], { timeoutMs: 5000, what: "redelivered webhook" });
    expect(hook.signatureValid).toBe(true);
    expect(hook.headers["x-github-delivery"]).toBe(failed?.["guid"]);
    expect(field(hook.payload, "workflow_job", "id")).toBe(job.id);

    const after = await api("GET", "/app/hook/deliveries", { auth: `Bearer ${JWT}` });
    expect((after.json as Json[]).map((d) => [d["guid"], d["redelivery"], d["status_code"]])).toEqual([
      [failed?.["guid"], true, 200],
      [failed?.["guid"], false, 502],
    ]);
  });

  it("records a connection failure as status code 0 and redelivers by deliveryId", async () => {
    await receiver.stop();
    const { status } = await sim.sendWebhook("workflow_job", { action: "queued" });
    expect(status).toBe(0);
    const lost = sim.deliveries().at(-1);
    expect(lost).toMatchObject({ statusCode: 0, redelivery: false });
    receiver = await Receiver.start();
    sim.setWebhookUrl(receiver.url);
    expect((await sim.sendWebhook("workflow_job", { action: "queued" }, { deliveryId: lost?.guid })).status).toBe(200);
    expect(sim.deliveries().at(-1)).toMatchObject({ guid: lost?.guid, redelivery: true, statusCode: 200 });
  });

  it("refuses a webhook URL off loopback", () => {
    expect(() => sim.setWebhookUrl("http://runnerhub.invalid/hook")).toThrow(/loopback/);
  });

  it("waitFor names what it waited for", async () => {
    await expect(sim.waitFor(() => false, { timeoutMs: 100, intervalMs: 20, what: "the impossible" })).rejects.toThrow(
      /the impossible/,
    );
  });
});
