/**
 * A small GitHub (GHES flavoured: API under /api/v3) that speaks the REST calls runnerhub makes,
 * sends signed `workflow_job` webhooks shaped like the real ones, and plays GitHub's side of the
 * runner protocol for the stub runner image (test/sim/stub-runner). It only ever listens on and
 * talks to the loopback interface.
 */
import { createHash, createHmac, randomBytes, randomUUID } from "node:crypto";
import {
  createServer,
  request as httpRequest,
  type ClientRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import type { WebhookDefinition } from "@octokit/webhooks-examples";
import { SecondaryLimit } from "./secondary-limit.js";

export type JobBehavior =
  | { kind: "run"; seconds: number }
  | { kind: "oom" }
  /** Holds this much memory, then completes: OOM-killed under a smaller memory limit (plus the shell's own). */
  | { kind: "memory"; megabytes: number }
  | { kind: "crash"; exitCode: number }
  | { kind: "hang" };

export type JobStatus = "queued" | "in_progress" | "completed";
export type JobConclusion = "success" | "failure" | "cancelled" | null;

export interface SimJob {
  id: number;
  runId: number;
  runAttempt: number;
  owner: string;
  repo: string;
  /** true when `owner` is an organization, false for a user's repository */
  org: boolean;
  installationId: number;
  repositoryId: number;
  labels: string[];
  /**
   * The runner group `runs-on: {group: NAME}` asks for. GitHub's webhooks and jobs API do not show
   * it: `labels` holds only the labels runs-on names (none for a bare group) and runner_group_* stay
   * null until a runner takes the job; only runners of that group may take it.
   */
  group: string | null;
  behavior: JobBehavior;
  status: JobStatus;
  conclusion: JobConclusion;
  runnerId: number | null;
  runnerName: string | null;
  runnerGroupId: number | null;
  runnerGroupName: string | null;
  name: string;
  workflowName: string;
  headBranch: string;
  createdAt: string;
  startedAt: string | null;
  /** 1 for the first job a runner took here, 2 for the next…: start order finer than started_at's seconds. */
  startIndex: number | null;
  completedAt: string | null;
}

export type RunnerScope = { kind: "org"; org: string } | { kind: "repo"; owner: string; repo: string };

export interface SimRunner {
  id: number;
  name: string;
  scope: RunnerScope;
  /** the labels exactly as sent to generate-jitconfig */
  labels: string[];
  runnerGroupId: number;
  workFolder: string | null;
  ephemeral: true;
  /** has polled recently, or is running a job */
  online: boolean;
  busy: boolean;
  jobId: number | null;
  createdAt: string;
  lastPollAt: number | null;
}

export interface SimDelivery {
  id: number;
  guid: string;
  deliveredAt: string;
  /** When it was sent, in ms since the epoch (deliveredAt has GitHub's whole seconds): for timing tests. */
  sentAt: number;
  redelivery: boolean;
  /** seconds, like the deliveries API */
  duration: number;
  status: string;
  /** 0 when the app could not be reached */
  statusCode: number;
  event: string;
  action: string | null;
  installationId: number | null;
  repositoryId: number | null;
  /** the raw body that was (or would have been) sent */
  body: string;
  responseBody: string;
}

export interface SimRequest {
  method: string;
  /** without the query string */
  path: string;
  at: number;
}

export interface RunnerGroup {
  id: number;
  name: string;
}

export interface GitHubSimulatorOptions {
  webhookUrl?: string;
  webhookSecret: string;
  runnerGroups?: RunnerGroup[];
  /**
   * The App GitHub's manifest flow creates (POST /settings/apps/new, then the code's conversion);
   * without it both answer 404. Its webhook secret is the simulator's own.
   */
  manifestApp?: { id: number; pem: string };
}

/** An App manifest the simulator was asked to create an App from, with the `state` it came with. */
export interface ManifestSubmission {
  /** the form's path: /settings/apps/new, or /organizations/{org}/settings/apps/new */
  path: string;
  state: string | null;
  manifest: Record<string, unknown>;
}

export interface QueueJobOptions {
  owner: string;
  repo: string;
  /** default true: `owner` is an organization */
  org?: boolean;
  labels: string[];
  /** `runs-on: {group: NAME, labels: […]}`: only runners of that group may take the job; the payloads do not name it. */
  group?: string;
  /** default 1 */
  installationId?: number;
  /** default `{ kind: "run", seconds: 1 }` */
  behavior?: JobBehavior;
  /** default true; false records a failed delivery (502) without contacting the app */
  deliver?: boolean;
}

/**
 * A fault the API answers instead of doing its work: the next `times` requests whose method and
 * path (under /api/v3, without the query) match get this status, headers and message.
 */
export interface ApiFault {
  method: string;
  path: RegExp;
  times: number;
  status: number;
  headers?: Record<string, string>;
  message?: string;
}

/**
 * Requests the API holds open and never answers: the next `times` requests whose method and path
 * (under /api/v3, without the query) match get no status, no body and no close, as from a
 * half-dead connection. Their work is not done (no runner is registered).
 */
export interface ApiHang {
  method: string;
  path: RegExp;
  times: number;
}

export interface WaitForOptions {
  timeoutMs: number;
  intervalMs?: number;
  what: string;
}

const API_PREFIX = "/api/v3";
const HOOK_ID = 424242;
const APP_ID = 1;
const DEFAULT_PER_PAGE = 30;
const MAX_PER_PAGE = 100;
/** GitHub gives up on a delivery after 10 s */
const WEBHOOK_TIMEOUT_MS = 10_000;
/** an idle runner that stopped polling is shown offline after this long */
const ONLINE_GRACE_MS = 5_000;
const TOKEN_LIFETIME_MS = 60 * 60 * 1000;
const MAX_BODY_BYTES = 1024 * 1024;
const NAME_PATTERN = /^[A-Za-z0-9_.-]+$/;

// ---------------------------------------------------------------------------------------------
// Webhook payload templates, taken from the real examples so field sets stay the same as GitHub's.

export type WorkflowJobExample = WebhookDefinition<"workflow_job">["examples"][number];

/** GitHub's own workflow_job example payloads, as @octokit/webhooks-examples ships them. */
export function workflowJobExamples(): WorkflowJobExample[] {
  // The package's entry point is a JSON file; require() loads it the same way under tsx, vitest and node.
  const require = createRequire(import.meta.url);
  const definitions = require("@octokit/webhooks-examples") as WebhookDefinition[];
  const definition = definitions.find((d): d is WebhookDefinition<"workflow_job"> => d.name === "workflow_job");
  if (!definition) throw new Error("@octokit/webhooks-examples has no workflow_job examples");
  return definition.examples;
}

interface Templates {
  base: WorkflowJobExample;
  organization: Record<string, unknown>;
}

let templates: Templates | undefined;

function loadTemplates(): Templates {
  if (templates) return templates;
  const examples = workflowJobExamples();
  const base = examples.find(
    (e) => e.action === "queued" && "installation" in e && e.repository.owner.type === "Organization",
  );
  const withOrg = examples.find((e) => "organization" in e && e.organization !== undefined);
  if (!base || !withOrg || !("organization" in withOrg) || !withOrg.organization) {
    throw new Error("@octokit/webhooks-examples lacks the workflow_job examples the simulator builds on");
  }
  templates = { base, organization: { ...withOrg.organization } };
  return templates;
}

function asRecord(value: unknown): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error("expected a JSON object");
  }
  return value as Record<string, unknown>;
}

/** Rewrites every string in a JSON value by plain substring replacement (URLs and logins). */
function rewrite(value: unknown, replacements: [string, string][]): Record<string, unknown> {
  let text = JSON.stringify(value);
  for (const [from, to] of replacements) text = text.split(from).join(to);
  return asRecord(JSON.parse(text));
}

function isoNow(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
}

function fakeSha(seed: string): string {
  return createHash("sha1").update(seed).digest("hex");
}

function nodeId(kind: string, id: number): string {
  return Buffer.from(`0${kind.length}:${kind}${id}`).toString("base64");
}

function isLoopbackUrl(url: URL): boolean {
  const host = url.hostname;
  return host === "localhost" || host === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `probe` until it returns something other than `undefined` or `false`. A probe that throws
 * is tried again (the thing it reads may not be up yet); its last error is part of the timeout message.
 */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  opts: WaitForOptions,
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 50;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const cause =
        lastError === undefined
          ? ""
          : `; last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}${cause}`);
    }
    await sleep(interval);
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP plumbing

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Auth = "none" | "jwt" | "token";

interface RouteContext {
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  /** the installation the token was issued for, on "token" routes */
  installationId: number | null;
  path: string;
}

interface Reply {
  status: number;
  json?: unknown;
  text?: string;
  headers?: Record<string, string>;
}

interface Route {
  method: string;
  pattern: RegExp;
  auth: Auth;
  handle: (ctx: RouteContext) => Reply | Promise<Reply>;
}

const SCOPE = "(?:orgs/(?<org>[^/]+)|repos/(?<owner>[^/]+)/(?<repo>[^/]+))";

function route(method: string, pattern: string, auth: Auth, handle: Route["handle"]): Route {
  return { method, pattern: new RegExp(`^${pattern}$`), auth, handle };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, "Payload too large"));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function parseIntParam(value: string | null, fallback: number): number {
  if (value === null || !/^\d+$/.test(value)) return fallback;
  return Number(value);
}

// ---------------------------------------------------------------------------------------------

interface Registration {
  id: number;
  name: string;
  scope: RunnerScope;
  labels: string[];
  runnerGroupId: number;
  workFolder: string | null;
  createdAt: string;
  lastPollAt: number | null;
  busy: boolean;
  jobId: number | null;
}

interface IssuedToken {
  installationId: number;
  expiresAt: number;
}

interface SendOptions {
  deliveryId?: string;
  secret?: string;
}

export class GitHubSimulator {
  /** every request received, in order (API, JWT and runner-protocol routes alike) */
  readonly requests: SimRequest[] = [];
  readonly url: string;
  readonly host: string;

  private webhookUrl: URL | undefined;
  private readonly secret: string;
  private readonly groups: RunnerGroup[];
  private readonly tokens = new Map<string, IssuedToken>();
  private readonly registrations = new Map<number, Registration>();
  private readonly jobsById = new Map<number, SimJob>();
  private readonly deliveryLog: SimDelivery[] = [];
  private readonly labelIds = new Map<string, number>();
  private readonly accountIds = new Map<string, number>();
  private readonly repositoryIds = new Map<string, number>();
  private readonly inFlight = new Set<ClientRequest>();
  /** every secret handed out (installation tokens, JIT configs, registration tokens), for leak scans */
  private readonly secrets: string[] = [];
  /** every runner ever registered, also after GitHub removed its registration */
  private readonly registered: { id: number; name: string; labels: string[] }[] = [];
  private readonly routes: Route[];
  /** every App manifest posted to the create-App form, in order */
  readonly manifests: ManifestSubmission[] = [];
  /** manifest codes not converted yet (GitHub's are good once) */
  private readonly manifestCodes = new Set<string>();
  private readonly manifestApp: GitHubSimulatorOptions["manifestApp"];
  private nextRunnerId = 1;
  private nextJobId = 1000;
  private nextRunId = 50_000;
  private nextStartIndex = 1;
  private nextDeliveryId = 90_000_001;
  private nextLabelId = 1;
  private nextAccountId = 7_000_000;
  private nextRepositoryId = 600_000_000;
  private readonly faults: ApiFault[] = [];
  private readonly hangs: ApiHang[] = [];
  /** requests held open by a hang, until they are closed by the client or by stop() */
  private readonly held = new Set<ServerResponse>();
  private heldTotal = 0;
  /** While set, a runner's first poll tells it to exit with this code before taking any job. */
  private startCrashCode: number | undefined;
  /** While set, a runner's first poll refuses it as GitHub refuses an outdated runner version. */
  private refusedVersion: string | undefined;
  /** x-ratelimit-* headers on every API answer, when set */
  private rateLimit: { remaining: number; resetAt: number } | undefined;
  /** GitHub's secondary limit per installation token, when set (limitPointsPerMinute) */
  private secondaryLimit: SecondaryLimit | undefined;
  /** deliveries go out one at a time, in the order the events happened */
  private deliveryChain: Promise<unknown> = Promise.resolve();
  private stopped = false;

  private constructor(
    private readonly server: Server,
    port: number,
    opts: GitHubSimulatorOptions,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.host = `127.0.0.1:${port}`;
    this.secret = opts.webhookSecret;
    this.groups = opts.runnerGroups ?? [{ id: 1, name: "Default" }];
    this.manifestApp = opts.manifestApp;
    if (opts.webhookUrl !== undefined) this.setWebhookUrl(opts.webhookUrl);
    this.routes = this.buildRoutes();
  }

  static async start(opts: GitHubSimulatorOptions): Promise<GitHubSimulator> {
    loadTemplates();
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    const sim = new GitHubSimulator(server, (server.address() as AddressInfo).port, opts);
    server.on("request", (req, res) => {
      void sim.handle(req, res);
    });
    return sim;
  }

  /** The app's webhook endpoint; it must be on loopback (tests never send traffic elsewhere). */
  setWebhookUrl(url: string): void {
    const parsed = new URL(url);
    if (parsed.protocol !== "http:" || !isLoopbackUrl(parsed)) {
      throw new Error(`webhook URL must be http:// on loopback, got ${url}`);
    }
    this.webhookUrl = parsed;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const req of this.inFlight) req.destroy();
    for (const res of this.held) res.destroy();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  // -------------------------------------------------------------------------------------------
  // Test controls

  async queueJob(opts: QueueJobOptions): Promise<SimJob> {
    if (!NAME_PATTERN.test(opts.owner) || !NAME_PATTERN.test(opts.repo)) {
      throw new Error(`invalid owner/repo ${opts.owner}/${opts.repo}`);
    }
    const job = this.createJob({
      owner: opts.owner,
      repo: opts.repo,
      org: opts.org ?? true,
      labels: [...opts.labels],
      group: opts.group ?? null,
      installationId: opts.installationId ?? 1,
      behavior: opts.behavior ?? { kind: "run", seconds: 1 },
      runId: this.nextRunId++,
      runAttempt: 1,
    });
    const payload = this.workflowJobPayload("queued", job);
    if (opts.deliver === false) {
      this.recordLostDelivery("workflow_job", JSON.stringify(payload));
    } else {
      await this.sendWebhook("workflow_job", payload);
    }
    return { ...job, labels: [...job.labels] };
  }

  /**
   * Cancels a job the way a user would. A queued job just completes as cancelled; a running one
   * also loses its (ephemeral) runner registration, so the stub's next call is answered `gone`.
   */
  async cancelJob(jobId: number): Promise<void> {
    const job = this.jobsById.get(jobId);
    if (!job) throw new Error(`no job ${jobId}`);
    if (job.status === "completed") throw new Error(`job ${jobId} is already completed`);
    if (job.runnerId !== null) this.registrations.delete(job.runnerId);
    this.finishJob(job, "cancelled");
    await this.sendWebhook("workflow_job", this.workflowJobPayload("completed", job));
  }

  /**
   * What GitHub does some time after a runner vanished (OOM kill, crash, hang killed by the app):
   * its job fails and the registration is removed.
   */
  async loseRunner(runnerId: number): Promise<void> {
    const reg = this.registrations.get(runnerId);
    if (!reg) throw new Error(`no runner ${runnerId}`);
    this.registrations.delete(runnerId);
    const job = reg.jobId === null ? undefined : this.jobsById.get(reg.jobId);
    if (job && job.status === "in_progress") {
      this.finishJob(job, "failure");
      await this.sendWebhook("workflow_job", this.workflowJobPayload("completed", job));
    }
  }

  /**
   * Sends a signed webhook to the app and records the delivery. Passing a `deliveryId` already used
   * makes it a redelivery (same `X-GitHub-Delivery`); passing another `secret` forges a bad signature.
   */
  sendWebhook(event: string, payload: unknown, opts: SendOptions = {}): Promise<{ status: number }> {
    const body = JSON.stringify(payload);
    const guid = opts.deliveryId ?? randomUUID();
    const redelivery = this.deliveryLog.some((d) => d.guid === guid);
    return this.enqueueDelivery(() => this.deliver(event, body, guid, opts.secret ?? this.secret, redelivery));
  }

  /**
   * The API answers the next matching requests with a fault (5xx, 429, a secondary limit…)
   * instead of doing their work; faults are tried in the order they were added.
   */
  injectFault(fault: ApiFault): void {
    this.faults.push({ ...fault });
  }

  /** The next matching API requests are held open and never answered (see ApiHang). */
  hangRequests(hang: ApiHang): void {
    this.hangs.push({ ...hang });
  }

  /** How many requests a hang has held: `open` are still held, `total` ever were. */
  heldRequests(): { open: number; total: number } {
    return { open: this.held.size, total: this.heldTotal };
  }

  /**
   * Runners die at start from now on (a broken image, a runner that cannot configure itself): each
   * runner's first poll tells the stub to exit with this code, before it takes a job. Undefined
   * lets runners start normally again.
   */
  crashRunnersAtStart(exitCode: number | undefined): void {
    this.startCrashCode = exitCode;
  }

  /**
   * GitHub refuses runners of this version from now on (more than 30 days behind the newest
   * release): each runner's first poll is refused, and the stub prints what the real runner prints
   * and exits 0, as the real run.sh does (test/sim/stub-runner/run.sh). Undefined accepts runners again.
   */
  refuseRunnerVersion(version: string | undefined): void {
    this.refusedVersion = version;
  }

  /** Faults not yet used up. */
  pendingFaults(): ApiFault[] {
    return this.faults.filter((fault) => fault.times > 0).map((fault) => ({ ...fault }));
  }

  /**
   * Enforces GitHub's secondary limit per installation token from now on: over a sliding minute,
   * at most this many points (GET 1, other methods 5) per installation ("app": the app's JWT);
   * more is answered 403 "secondary rate limit" with retry-after. Undefined lifts it.
   */
  limitPointsPerMinute(pointsPerMinute: number | undefined): void {
    this.secondaryLimit = pointsPerMinute === undefined ? undefined : new SecondaryLimit(pointsPerMinute);
  }

  /** Requests the secondary limit refused, per installation ("app": the app's JWT). */
  secondaryLimitRefusals(): Record<string, number> {
    return this.secondaryLimit?.refusals() ?? {};
  }

  /** The API requests one installation made that the secondary limit let through, oldest first. */
  installationRequests(installation: string): { at: number; method: string; path: string }[] {
    return this.secondaryLimit?.requests(installation) ?? [];
  }

  /** Every API answer carries x-ratelimit-remaining/-reset (undefined: none). */
  setRateLimit(limit: { remaining: number; resetAt: Date } | undefined): void {
    this.rateLimit = limit && { remaining: limit.remaining, resetAt: Math.floor(limit.resetAt.getTime() / 1000) };
  }

  /** The signed payload GitHub would send for this job and action now (to resend, reorder or mangle). */
  jobPayload(jobId: number, action: "queued" | "in_progress" | "completed"): Record<string, unknown> {
    const job = this.jobsById.get(jobId);
    if (!job) throw new Error(`no job ${jobId}`);
    return this.workflowJobPayload(action, job);
  }

  getJob(id: number): SimJob | undefined {
    const job = this.jobsById.get(id);
    return job ? { ...job, labels: [...job.labels] } : undefined;
  }

  jobs(): SimJob[] {
    return [...this.jobsById.values()].map((job) => ({ ...job, labels: [...job.labels] }));
  }

  /** current registrations (a completed ephemeral runner's registration is gone) */
  runners(): SimRunner[] {
    return [...this.registrations.values()].map((reg) => ({
      id: reg.id,
      name: reg.name,
      scope: { ...reg.scope },
      labels: [...reg.labels],
      runnerGroupId: reg.runnerGroupId,
      workFolder: reg.workFolder,
      ephemeral: true,
      online: this.isOnline(reg),
      busy: reg.busy,
      jobId: reg.jobId,
      createdAt: reg.createdAt,
      lastPollAt: reg.lastPollAt,
    }));
  }

  /** Every runner ever registered here, oldest first, including those whose registration is gone. */
  registrationHistory(): { id: number; name: string; labels: string[] }[] {
    return this.registered.map((r) => ({ ...r, labels: [...r.labels] }));
  }

  /** Every secret the simulator handed out: a scan for these finds leaks. */
  issuedSecrets(): string[] {
    return [...this.secrets];
  }

  /** all deliveries, oldest first (the deliveries API answers newest first) */
  deliveries(): SimDelivery[] {
    return this.deliveryLog.map((d) => ({ ...d }));
  }

  waitFor<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, opts: WaitForOptions): Promise<T> {
    return waitFor(probe, opts);
  }

  // -------------------------------------------------------------------------------------------
  // Jobs and webhooks

  private createJob(init: {
    owner: string;
    repo: string;
    org: boolean;
    labels: string[];
    group: string | null;
    installationId: number;
    behavior: JobBehavior;
    runId: number;
    runAttempt: number;
  }): SimJob {
    const job: SimJob = {
      id: this.nextJobId++,
      runId: init.runId,
      runAttempt: init.runAttempt,
      owner: init.owner,
      repo: init.repo,
      org: init.org,
      installationId: init.installationId,
      repositoryId: this.idFor(this.repositoryIds, `${init.owner}/${init.repo}`, () => this.nextRepositoryId++),
      labels: init.labels,
      group: init.group,
      behavior: init.behavior,
      status: "queued",
      conclusion: null,
      runnerId: null,
      runnerName: null,
      runnerGroupId: null,
      runnerGroupName: null,
      name: "build",
      workflowName: "CI",
      headBranch: "main",
      createdAt: isoNow(),
      startedAt: null,
      startIndex: null,
      completedAt: null,
    };
    this.jobsById.set(job.id, job);
    return job;
  }

  private finishJob(job: SimJob, conclusion: Exclude<JobConclusion, null>): void {
    job.status = "completed";
    job.conclusion = conclusion;
    job.completedAt = isoNow();
  }

  private idFor(map: Map<string, number>, key: string, next: () => number): number {
    const k = key.toLowerCase();
    let id = map.get(k);
    if (id === undefined) {
      id = next();
      map.set(k, id);
    }
    return id;
  }

  /** Every URL in a payload points at the simulator, so nothing that follows one leaves loopback. */
  private hostReplacements(): [string, string][] {
    return [
      ["https://api.github.com/", `${this.url}${API_PREFIX}/`],
      ["https://avatars.githubusercontent.com/", `${this.url}/avatars/`],
      ["https://avatars1.githubusercontent.com/", `${this.url}/avatars/`],
      ["https://help.github.com/", `${this.url}/help/`],
      ["https://github.com/", `${this.url}/`],
      ["git://github.com/", `git://${this.host}/`],
      ["git@github.com:", `git@127.0.0.1:`],
    ];
  }

  /** the job as both the jobs API and the webhook's `workflow_job` show it */
  private jobJson(job: SimJob): Record<string, unknown> {
    const repoApi = `${this.url}${API_PREFIX}/repos/${job.owner}/${job.repo}`;
    const repoHtml = `${this.url}/${job.owner}/${job.repo}`;
    return {
      id: job.id,
      run_id: job.runId,
      run_url: `${repoApi}/actions/runs/${job.runId}`,
      run_attempt: job.runAttempt,
      node_id: nodeId("CheckRun", job.id),
      head_sha: fakeSha(`${job.runId}`),
      head_branch: job.headBranch,
      url: `${repoApi}/actions/jobs/${job.id}`,
      html_url: `${repoHtml}/actions/runs/${job.runId}/job/${job.id}`,
      status: job.status,
      conclusion: job.conclusion,
      // GitHub reports a queued job's started_at as its creation time.
      started_at: job.startedAt ?? job.createdAt,
      created_at: job.createdAt,
      completed_at: job.completedAt,
      name: job.name,
      steps: [],
      check_run_url: `${repoApi}/check-runs/${job.id}`,
      labels: [...job.labels],
      runner_id: job.runnerId,
      runner_name: job.runnerName,
      runner_group_id: job.runnerGroupId,
      runner_group_name: job.runnerGroupName,
      workflow_name: job.workflowName,
    };
  }

  private workflowJobPayload(action: "queued" | "in_progress" | "completed", job: SimJob): Record<string, unknown> {
    const { base, organization } = loadTemplates();
    const hosts = this.hostReplacements();
    const ownerId = this.idFor(this.accountIds, job.owner, () => this.nextAccountId++);
    const ownerType = job.org ? "Organization" : "User";
    const repoTemplate = base.repository;
    const repository = rewrite(repoTemplate, [
      [repoTemplate.full_name, `${job.owner}/${job.repo}`],
      [`/${repoTemplate.owner.login}`, `/${job.owner}`],
      ...hosts,
    ]);
    const owner = asRecord(repository["owner"]);
    const payload: Record<string, unknown> = {
      action,
      workflow_job: { ...rewrite(base.workflow_job, hosts), ...this.jobJson(job) },
      repository: {
        ...repository,
        id: job.repositoryId,
        node_id: nodeId("Repository", job.repositoryId),
        name: job.repo,
        full_name: `${job.owner}/${job.repo}`,
        private: false,
        owner: {
          ...owner,
          login: job.owner,
          id: ownerId,
          node_id: nodeId(ownerType, ownerId),
          type: ownerType,
        },
      },
    };
    if (job.org) {
      const templateLogin = typeof organization["login"] === "string" ? organization["login"] : "octo-org";
      payload["organization"] = {
        ...rewrite(organization, [[`/${templateLogin}`, `/${job.owner}`], ...hosts]),
        login: job.owner,
        id: ownerId,
        node_id: nodeId("Organization", ownerId),
        description: null,
      };
    }
    payload["sender"] = rewrite(base.sender, hosts);
    payload["installation"] = {
      id: job.installationId,
      node_id: Buffer.from(`023:IntegrationInstallation${job.installationId}`).toString("base64"),
    };
    return payload;
  }

  private enqueueDelivery<T>(send: () => Promise<T>): Promise<T> {
    const result = this.deliveryChain.then(send);
    this.deliveryChain = result.catch(() => undefined);
    return result;
  }

  private describePayload(body: string): Pick<SimDelivery, "action" | "installationId" | "repositoryId"> {
    let parsed: Record<string, unknown> = {};
    try {
      parsed = asRecord(JSON.parse(body));
    } catch {
      // A test may send a body that is not an object; the delivery is still recorded.
    }
    const nested = (key: string): number | null => {
      const value = parsed[key];
      if (typeof value !== "object" || value === null) return null;
      const id = (value as Record<string, unknown>)["id"];
      return typeof id === "number" ? id : null;
    };
    return {
      action: typeof parsed["action"] === "string" ? parsed["action"] : null,
      installationId: nested("installation"),
      repositoryId: nested("repository"),
    };
  }

  private record(
    event: string,
    body: string,
    guid: string,
    redelivery: boolean,
    outcome: { statusCode: number; status: string; durationMs: number; responseBody: string },
  ): SimDelivery {
    const delivery: SimDelivery = {
      id: this.nextDeliveryId++,
      guid,
      deliveredAt: isoNow(),
      sentAt: Date.now() - outcome.durationMs,
      redelivery,
      duration: Math.round(outcome.durationMs) / 1000,
      status: outcome.status,
      statusCode: outcome.statusCode,
      event,
      ...this.describePayload(body),
      body,
      responseBody: outcome.responseBody,
    };
    this.deliveryLog.push(delivery);
    return delivery;
  }

  private recordLostDelivery(event: string, body: string): void {
    this.record(event, body, randomUUID(), false, {
      statusCode: 502,
      status: "Invalid HTTP Response: 502",
      durationMs: 0,
      responseBody: "",
    });
  }

  private webhookHeaders(event: string, guid: string, body: string, secret: string): Record<string, string> {
    const sha256 = createHmac("sha256", secret).update(body).digest("hex");
    const sha1 = createHmac("sha1", secret).update(body).digest("hex");
    return {
      Accept: "*/*",
      "Content-Type": "application/json",
      "User-Agent": "GitHub-Hookshot/runnerhub-sim",
      "X-GitHub-Event": event,
      "X-GitHub-Delivery": guid,
      "X-GitHub-Hook-ID": String(HOOK_ID),
      "X-GitHub-Hook-Installation-Target-ID": String(APP_ID),
      "X-GitHub-Hook-Installation-Target-Type": "integration",
      "X-Hub-Signature": `sha1=${sha1}`,
      "X-Hub-Signature-256": `sha256=${sha256}`,
      "Content-Length": String(Buffer.byteLength(body)),
    };
  }

  private async deliver(
    event: string,
    body: string,
    guid: string,
    secret: string,
    redelivery: boolean,
  ): Promise<{ status: number }> {
    const started = performance.now();
    const target = this.webhookUrl;
    if (this.stopped || !target) {
      this.record(event, body, guid, redelivery, {
        statusCode: 0,
        status: "failed to connect to host",
        durationMs: 0,
        responseBody: "",
      });
      return { status: 0 };
    }
    const outcome = await new Promise<{ statusCode: number; status: string; responseBody: string }>((resolve) => {
      const req = httpRequest(
        target,
        {
          method: "POST",
          headers: this.webhookHeaders(event, guid, body, secret),
          agent: false,
          timeout: WEBHOOK_TIMEOUT_MS,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => {
            const code = res.statusCode ?? 0;
            resolve({
              statusCode: code,
              status: code >= 200 && code < 300 ? "OK" : `Invalid HTTP Response: ${code}`,
              responseBody: Buffer.concat(chunks).toString("utf8"),
            });
          });
          res.on("error", () => resolve({ statusCode: 0, status: "failed to read response", responseBody: "" }));
        },
      );
      this.inFlight.add(req);
      req.on("close", () => this.inFlight.delete(req));
      req.on("timeout", () => {
        req.destroy();
        resolve({ statusCode: 0, status: "timed out", responseBody: "" });
      });
      req.on("error", () => resolve({ statusCode: 0, status: "failed to connect to host", responseBody: "" }));
      req.end(body);
    });
    this.record(event, body, guid, redelivery, { ...outcome, durationMs: performance.now() - started });
    return { status: outcome.statusCode };
  }

  // -------------------------------------------------------------------------------------------
  // Registrations

  private isOnline(reg: Registration): boolean {
    return reg.busy || (reg.lastPollAt !== null && Date.now() - reg.lastPollAt < ONLINE_GRACE_MS);
  }

  private groupName(id: number): string {
    return this.groups.find((g) => g.id === id)?.name ?? "Default";
  }

  private labelJson(name: string): { id: number; name: string; type: "custom" } {
    return { id: this.idFor(this.labelIds, name, () => this.nextLabelId++), name, type: "custom" };
  }

  private runnerJson(reg: Registration): Record<string, unknown> {
    return {
      id: reg.id,
      name: reg.name,
      os: "linux",
      status: this.isOnline(reg) ? "online" : "offline",
      busy: reg.busy,
      ephemeral: true,
      runner_group_id: reg.runnerGroupId,
      labels: reg.labels.map((l) => this.labelJson(l)),
    };
  }

  private sameScope(a: RunnerScope, b: RunnerScope): boolean {
    if (a.kind === "org" && b.kind === "org") return a.org.toLowerCase() === b.org.toLowerCase();
    if (a.kind === "repo" && b.kind === "repo") {
      return a.owner.toLowerCase() === b.owner.toLowerCase() && a.repo.toLowerCase() === b.repo.toLowerCase();
    }
    return false;
  }

  /** A runner may take a job from its own repository, or from any repository of its organization. */
  private canTake(reg: Registration, job: SimJob): boolean {
    const scopeFits =
      reg.scope.kind === "org"
        ? job.org && job.owner.toLowerCase() === reg.scope.org.toLowerCase()
        : job.owner.toLowerCase() === reg.scope.owner.toLowerCase() &&
          job.repo.toLowerCase() === reg.scope.repo.toLowerCase();
    if (!scopeFits) return false;
    if (job.group !== null && this.groupName(reg.runnerGroupId).toLowerCase() !== job.group.toLowerCase()) return false;
    const runnerLabels = new Set(reg.labels.map((l) => l.toLowerCase()));
    return job.labels.every((l) => runnerLabels.has(l.toLowerCase()));
  }

  private scopedRegistration(scope: RunnerScope, id: string | undefined): Registration {
    const reg = this.registrations.get(Number(id));
    if (!reg || !this.sameScope(reg.scope, scope)) throw new HttpError(404, "Not Found");
    return reg;
  }

  // -------------------------------------------------------------------------------------------
  // Request handling

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    const parsed = new URL(req.url ?? "/", this.url);
    const path = parsed.pathname;
    this.requests.push({ method, path, at: Date.now() });
    const apiPath = path.startsWith(`${API_PREFIX}/`) ? path.slice(API_PREFIX.length) : undefined;
    const hang = this.hangs.find(
      (h) => h.times > 0 && h.method === method && apiPath !== undefined && h.path.test(apiPath),
    );
    if (hang) {
      hang.times--;
      this.heldTotal++;
      this.held.add(res);
      res.on("close", () => this.held.delete(res));
      return;
    }
    try {
      const reply = await this.dispatch(req, method, path, parsed.searchParams);
      this.send(res, reply);
    } catch (error) {
      if (error instanceof HttpError) {
        this.send(res, { status: error.status, json: { message: error.message } });
      } else {
        const message = error instanceof Error ? error.message : String(error);
        this.send(res, { status: 500, json: { message: `simulator error: ${message}` } });
      }
    }
  }

  private send(res: ServerResponse, reply: Reply): void {
    if (res.headersSent) return;
    const headers: Record<string, string> = { ...reply.headers };
    if (this.rateLimit) {
      headers["x-ratelimit-remaining"] ??= String(this.rateLimit.remaining);
      headers["x-ratelimit-reset"] ??= String(this.rateLimit.resetAt);
    }
    let body = "";
    if (reply.text !== undefined) {
      headers["content-type"] = "text/plain; charset=utf-8";
      body = reply.text;
    } else if (reply.json !== undefined) {
      headers["content-type"] = "application/json; charset=utf-8";
      body = JSON.stringify(reply.json);
    }
    headers["content-length"] = String(Buffer.byteLength(body));
    res.writeHead(reply.status, headers);
    res.end(body);
  }

  private async dispatch(req: IncomingMessage, method: string, path: string, query: URLSearchParams): Promise<Reply> {
    if (path.startsWith("/_sim/")) {
      return this.runnerProtocol(method, path);
    }
    if (method === "POST" && /^(?:\/organizations\/[^/]+)?\/settings\/apps\/new$/.test(path)) {
      return this.createAppForm(req, path, query);
    }
    if (!path.startsWith(`${API_PREFIX}/`)) throw new HttpError(404, "Not Found");
    const apiPath = path.slice(API_PREFIX.length);
    const fault = this.faults.find((f) => f.times > 0 && f.method === method && f.path.test(apiPath));
    if (fault) {
      fault.times--;
      return { status: fault.status, headers: fault.headers, json: { message: fault.message ?? "Server Error" } };
    }
    for (const r of this.routes) {
      if (r.method !== method) continue;
      const match = r.pattern.exec(apiPath);
      if (!match) continue;
      const installationId = this.authenticate(r.auth, req.headers);
      if (r.auth !== "none") {
        const retryAfter = this.secondaryLimit?.spend(String(installationId ?? "app"), method, apiPath);
        if (retryAfter !== undefined) {
          return {
            status: 403,
            headers: { "retry-after": String(retryAfter) },
            json: {
              message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            },
          };
        }
      }
      const raw = await readBody(req);
      let body: unknown;
      if (raw.trim() !== "") {
        try {
          body = JSON.parse(raw);
        } catch {
          throw new HttpError(400, "Problems parsing JSON");
        }
      }
      const params: Record<string, string> = {};
      for (const [key, value] of Object.entries(match.groups ?? {})) {
        if (value !== undefined) params[key] = decodeURIComponent(value);
      }
      return r.handle({ params, query, body, installationId, path: apiPath });
    }
    throw new HttpError(404, "Not Found");
  }

  /**
   * GitHub's "create App from manifest" form, as if the user clicked Create: the browser is sent
   * to the manifest's redirect_url with a one-time code and the `state` the form was posted with.
   */
  private async createAppForm(req: IncomingMessage, path: string, query: URLSearchParams): Promise<Reply> {
    if (!this.manifestApp) throw new HttpError(404, "Not Found");
    const form = new URLSearchParams(await readBody(req));
    let manifest: Record<string, unknown>;
    try {
      manifest = JSON.parse(form.get("manifest") ?? "") as Record<string, unknown>;
    } catch {
      throw new HttpError(422, "Invalid manifest");
    }
    if (typeof manifest.redirect_url !== "string") throw new HttpError(422, "Invalid manifest: redirect_url");
    const state = query.get("state");
    this.manifests.push({ path, state, manifest });
    const code = randomBytes(10).toString("hex");
    this.manifestCodes.add(code);
    const back = new URL(manifest.redirect_url);
    back.searchParams.set("code", code);
    if (state !== null) back.searchParams.set("state", state);
    return { status: 302, headers: { location: back.toString() } };
  }

  private authenticate(auth: Auth, headers: IncomingHttpHeaders): number | null {
    if (auth === "none") return null;
    const header = headers.authorization;
    if (!header) throw new HttpError(401, "Requires authentication");
    const match = /^(\w+)\s+(\S+)$/.exec(header);
    const scheme = match?.[1]?.toLowerCase();
    const credential = match?.[2] ?? "";
    if (auth === "jwt") {
      const parts = credential.split(".");
      if (scheme !== "bearer" || parts.length !== 3 || parts.some((p) => p === "")) {
        throw new HttpError(401, "A JSON web token could not be decoded");
      }
      return null;
    }
    const issued = this.tokens.get(credential);
    if ((scheme !== "token" && scheme !== "bearer") || !issued || issued.expiresAt <= Date.now()) {
      throw new HttpError(401, "Bad credentials");
    }
    return issued.installationId;
  }

  private scopeOf(params: Record<string, string>): RunnerScope {
    const { org, owner, repo } = params;
    if (org !== undefined) return { kind: "org", org };
    if (owner !== undefined && repo !== undefined) return { kind: "repo", owner, repo };
    throw new HttpError(404, "Not Found");
  }

  /** Slices `items` by `per_page`/`page` and adds the Link header Octokit's paginate follows. */
  private paginate<T>(items: T[], ctx: RouteContext): { page: T[]; headers: Record<string, string> } {
    const perPage = Math.min(Math.max(parseIntParam(ctx.query.get("per_page"), DEFAULT_PER_PAGE), 1), MAX_PER_PAGE);
    const page = Math.max(parseIntParam(ctx.query.get("page"), 1), 1);
    const lastPage = Math.max(Math.ceil(items.length / perPage), 1);
    const link = (p: number, rel: string): string => {
      const q = new URLSearchParams(ctx.query);
      q.set("per_page", String(perPage));
      q.set("page", String(p));
      return `<${this.url}${API_PREFIX}${ctx.path}?${q.toString()}>; rel="${rel}"`;
    };
    const links: string[] = [];
    if (page > 1) links.push(link(Math.min(page - 1, lastPage), "prev"), link(1, "first"));
    if (page < lastPage) links.push(link(page + 1, "next"), link(lastPage, "last"));
    const headers: Record<string, string> = links.length > 0 ? { link: links.join(", ") } : {};
    return { page: items.slice((page - 1) * perPage, page * perPage), headers };
  }

  /**
   * GitHub pages webhook deliveries by cursor, not page number: the `rel="next"` link carries a
   * `cursor` naming the last delivery shown, so deliveries recorded meanwhile do not shift pages.
   */
  private cursorPaginate(
    newestFirst: SimDelivery[],
    ctx: RouteContext,
  ): { page: SimDelivery[]; headers: Record<string, string> } {
    const perPage = Math.min(Math.max(parseIntParam(ctx.query.get("per_page"), DEFAULT_PER_PAGE), 1), MAX_PER_PAGE);
    const cursor = ctx.query.get("cursor");
    let start = 0;
    if (cursor !== null) {
      const match = /^v1_(\d+)$/.exec(cursor);
      if (!match) throw new HttpError(400, "Invalid cursor");
      const after = Number(match[1]);
      const index = newestFirst.findIndex((d) => d.id < after);
      start = index === -1 ? newestFirst.length : index;
    }
    const page = newestFirst.slice(start, start + perPage);
    const last = page.at(-1);
    if (!last || start + perPage >= newestFirst.length) return { page, headers: {} };
    const q = new URLSearchParams(ctx.query);
    q.set("per_page", String(perPage));
    q.set("cursor", `v1_${last.id}`);
    return { page, headers: { link: `<${this.url}${API_PREFIX}${ctx.path}?${q.toString()}>; rel="next"` } };
  }

  private buildRoutes(): Route[] {
    return [
      route("POST", "/app-manifests/(?<code>[^/]+)/conversions", "none", (ctx) => {
        const app = this.manifestApp;
        const code = ctx.params.code ?? "";
        if (!app || !this.manifestCodes.delete(code)) throw new HttpError(404, "Not Found");
        const clientSecret = randomBytes(20).toString("hex");
        this.secrets.push(app.pem, clientSecret);
        return {
          status: 201,
          json: {
            id: app.id,
            slug: "runnerhub",
            name: "runnerhub",
            pem: app.pem,
            webhook_secret: this.secret,
            client_id: `Iv1.${randomBytes(8).toString("hex")}`,
            client_secret: clientSecret,
            html_url: `${this.url}/apps/runnerhub`,
          },
        };
      }),
      route("POST", "/app/installations/(?<id>\\d+)/access_tokens", "jwt", (ctx) => {
        const token = `ghs_${randomBytes(18).toString("hex")}`;
        this.secrets.push(token);
        const expiresAt = Date.now() + TOKEN_LIFETIME_MS;
        this.tokens.set(token, { installationId: Number(ctx.params["id"]), expiresAt });
        return {
          status: 201,
          json: {
            token,
            expires_at: new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, "Z"),
            permissions: { actions: "write", administration: "write", organization_self_hosted_runners: "write" },
            repository_selection: "all",
          },
        };
      }),
      // Every owner is installed as installation 1 unless a test queued jobs for another.
      route("GET", `/${SCOPE}/installation`, "jwt", (ctx) => {
        const owner = ctx.params["org"] ?? ctx.params["owner"];
        const job = [...this.jobsById.values()].find((candidate) => candidate.owner === owner);
        return { status: 200, json: { id: job?.installationId ?? 1, app_id: APP_ID, account: { login: owner } } };
      }),
      route("POST", `/${SCOPE}/actions/runners/generate-jitconfig`, "token", (ctx) => this.generateJitConfig(ctx)),
      route("POST", `/${SCOPE}/actions/runners/(?:registration|remove)-token`, "token", () => {
        const token = randomBytes(15).toString("hex").toUpperCase();
        this.secrets.push(token);
        return {
          status: 201,
          json: {
            token,
            expires_at: new Date(Date.now() + TOKEN_LIFETIME_MS).toISOString().replace(/\.\d{3}Z$/, "Z"),
          },
        };
      }),
      route("GET", `/${SCOPE}/actions/runners`, "token", (ctx) => {
        const scope = this.scopeOf(ctx.params);
        const name = ctx.query.get("name")?.toLowerCase();
        const all = [...this.registrations.values()]
          .filter((r) => this.sameScope(r.scope, scope))
          .filter((r) => name === undefined || r.name.toLowerCase() === name)
          .sort((a, b) => a.id - b.id);
        const { page, headers } = this.paginate(all, ctx);
        return {
          status: 200,
          headers,
          json: { total_count: all.length, runners: page.map((r) => this.runnerJson(r)) },
        };
      }),
      route("GET", `/${SCOPE}/actions/runners/(?<id>\\d+)`, "token", (ctx) => ({
        status: 200,
        json: this.runnerJson(this.scopedRegistration(this.scopeOf(ctx.params), ctx.params["id"])),
      })),
      route("DELETE", `/${SCOPE}/actions/runners/(?<id>\\d+)`, "token", (ctx) => {
        const reg = this.scopedRegistration(this.scopeOf(ctx.params), ctx.params["id"]);
        if (reg.busy) throw new HttpError(422, `Bad request - Runner "${reg.name}" is still running a job`);
        this.registrations.delete(reg.id);
        return { status: 204 };
      }),
      route("GET", "/repos/(?<owner>[^/]+)/(?<repo>[^/]+)/actions/jobs/(?<id>\\d+)", "token", (ctx) => ({
        status: 200,
        json: this.jobJson(this.repoJob(ctx.params)),
      })),
      route("POST", "/repos/(?<owner>[^/]+)/(?<repo>[^/]+)/actions/jobs/(?<id>\\d+)/rerun", "token", (ctx) => {
        const job = this.repoJob(ctx.params);
        // GitHub re-runs a job only once its whole run has completed (the re-run is a new attempt of the run).
        const running = [...this.jobsById.values()].some((j) => j.runId === job.runId && j.status !== "completed");
        if (running) throw new HttpError(403, "The workflow run containing this job is already running");
        const again = this.createJob({ ...job, labels: [...job.labels], runAttempt: job.runAttempt + 1 });
        void this.sendWebhook("workflow_job", this.workflowJobPayload("queued", again));
        return { status: 201, json: {} };
      }),
      route("GET", "/orgs/(?<org>[^/]+)/actions/runner-groups", "token", (ctx) => {
        const { page, headers } = this.paginate(this.groups, ctx);
        return {
          status: 200,
          headers,
          json: {
            total_count: this.groups.length,
            runner_groups: page.map((g) => ({
              id: g.id,
              name: g.name,
              visibility: "all",
              default: g.id === 1,
              inherited: false,
              allows_public_repositories: false,
              runners_url: `${this.url}${API_PREFIX}/orgs/${ctx.params["org"]}/actions/runner-groups/${g.id}/runners`,
            })),
          },
        };
      }),
      route("GET", "/app/hook/deliveries", "jwt", (ctx) => {
        const newestFirst = [...this.deliveryLog].reverse();
        const { page, headers } = this.cursorPaginate(newestFirst, ctx);
        return { status: 200, headers, json: page.map((d) => this.deliveryJson(d)) };
      }),
      route("GET", "/app/hook/deliveries/(?<id>\\d+)", "jwt", (ctx) => {
        const d = this.delivery(ctx.params["id"]);
        return {
          status: 200,
          json: {
            ...this.deliveryJson(d),
            url: this.webhookUrl?.toString() ?? "",
            request: {
              headers: this.webhookHeaders(d.event, d.guid, d.body, this.secret),
              payload: JSON.parse(d.body) as unknown,
            },
            response: { headers: {}, payload: d.responseBody },
          },
        };
      }),
      route("POST", "/app/hook/deliveries/(?<id>\\d+)/attempts", "jwt", (ctx) => {
        const d = this.delivery(ctx.params["id"]);
        void this.enqueueDelivery(() => this.deliver(d.event, d.body, d.guid, this.secret, true));
        return { status: 202, json: {} };
      }),
    ];
  }

  private repoJob(params: Record<string, string>): SimJob {
    const job = this.jobsById.get(Number(params["id"]));
    if (
      !job ||
      job.owner.toLowerCase() !== params["owner"]?.toLowerCase() ||
      job.repo.toLowerCase() !== params["repo"]?.toLowerCase()
    ) {
      throw new HttpError(404, "Not Found");
    }
    return job;
  }

  private delivery(id: string | undefined): SimDelivery {
    const d = this.deliveryLog.find((x) => x.id === Number(id));
    if (!d) throw new HttpError(404, "Not Found");
    return d;
  }

  private deliveryJson(d: SimDelivery): Record<string, unknown> {
    return {
      id: d.id,
      guid: d.guid,
      delivered_at: d.deliveredAt,
      redelivery: d.redelivery,
      duration: d.duration,
      status: d.status,
      status_code: d.statusCode,
      event: d.event,
      action: d.action,
      installation_id: d.installationId,
      repository_id: d.repositoryId,
      throttled_at: null,
    };
  }

  private generateJitConfig(ctx: RouteContext): Reply {
    const scope = this.scopeOf(ctx.params);
    if (typeof ctx.body !== "object" || ctx.body === null) throw new HttpError(422, "Invalid request: body required");
    const body = ctx.body as Record<string, unknown>;
    const { name, labels, runner_group_id: groupId, work_folder: workFolder } = body;
    if (typeof name !== "string" || name.trim() === "") throw new HttpError(422, "Invalid request: name is required");
    if (
      !Array.isArray(labels) ||
      labels.length < 1 ||
      labels.length > 100 ||
      !labels.every((l): l is string => typeof l === "string" && l !== "")
    ) {
      throw new HttpError(422, "Invalid request: labels must have between 1 and 100 items");
    }
    if (typeof groupId !== "number" || !Number.isInteger(groupId)) {
      throw new HttpError(422, "Invalid request: runner_group_id is required");
    }
    // Repositories have no runner groups of their own: their runners are in the default group.
    const groupKnown = scope.kind === "org" ? this.groups.some((g) => g.id === groupId) : groupId === 1;
    if (!groupKnown) throw new HttpError(422, `Invalid request: no runner group ${groupId}`);
    if (workFolder !== undefined && typeof workFolder !== "string") {
      throw new HttpError(422, "Invalid request: work_folder must be a string");
    }
    const taken = [...this.registrations.values()].some(
      (r) => this.sameScope(r.scope, scope) && r.name.toLowerCase() === name.toLowerCase(),
    );
    if (taken) throw new HttpError(409, `Already exists - A runner with the name ${name} already exists.`);
    const reg: Registration = {
      id: this.nextRunnerId++,
      name,
      scope,
      labels: [...labels],
      runnerGroupId: groupId,
      workFolder: workFolder ?? null,
      createdAt: isoNow(),
      lastPollAt: null,
      busy: false,
      jobId: null,
    };
    this.registrations.set(reg.id, reg);
    this.registered.push({ id: reg.id, name: reg.name, labels: [...reg.labels] });
    const encodedJitConfig = Buffer.from(`${this.url} ${reg.id}`, "ascii").toString("base64");
    this.secrets.push(encodedJitConfig);
    return { status: 201, json: { runner: this.runnerJson(reg), encoded_jit_config: encodedJitConfig } };
  }

  // -------------------------------------------------------------------------------------------
  // The stub runner's side: plain-text answers that busybox sh can parse.

  private runnerProtocol(method: string, path: string): Reply {
    const match = /^\/_sim\/runners\/(\d+)\/(poll|complete)$/.exec(path);
    if (!match || method !== "POST") return { status: 404, text: "not found\n" };
    const reg = this.registrations.get(Number(match[1]));
    if (!reg) return { status: 404, text: "gone\n" };
    return match[2] === "poll" ? this.poll(reg) : this.complete(reg);
  }

  private poll(reg: Registration): Reply {
    reg.lastPollAt = Date.now();
    if (reg.jobId === null && this.startCrashCode !== undefined)
      return { status: 200, text: `exit ${this.startCrashCode}\n` };
    if (reg.jobId === null && this.refusedVersion !== undefined)
      return { status: 200, text: `deprecated ${this.refusedVersion}\n` };
    if (reg.jobId === null) {
      const job = [...this.jobsById.values()]
        .filter((j) => j.status === "queued" && this.canTake(reg, j))
        .sort((a, b) => a.id - b.id)[0];
      if (!job) return { status: 200, text: "wait\n" };
      job.status = "in_progress";
      job.startedAt = isoNow();
      job.startIndex = this.nextStartIndex++;
      job.runnerId = reg.id;
      job.runnerName = reg.name;
      job.runnerGroupId = reg.runnerGroupId;
      job.runnerGroupName = this.groupName(reg.runnerGroupId);
      reg.busy = true;
      reg.jobId = job.id;
      // The runner is not kept waiting on the app: GitHub's delivery is asynchronous too.
      void this.sendWebhook("workflow_job", this.workflowJobPayload("in_progress", job));
    }
    const job = this.jobsById.get(reg.jobId);
    if (!job) return { status: 404, text: "gone\n" };
    return { status: 200, text: `${behaviorLine(job.behavior)}\n` };
  }

  private complete(reg: Registration): Reply {
    this.registrations.delete(reg.id);
    const job = reg.jobId === null ? undefined : this.jobsById.get(reg.jobId);
    if (job && job.status === "in_progress") {
      this.finishJob(job, "success");
      void this.sendWebhook("workflow_job", this.workflowJobPayload("completed", job));
    }
    return { status: 200, text: "ok\n" };
  }
}

function behaviorLine(behavior: JobBehavior): string {
  switch (behavior.kind) {
    case "run":
      return `run ${behavior.seconds}`;
    case "oom":
      return "oom";
    case "memory":
      return `memory ${behavior.megabytes}`;
    case "crash":
      return `crash ${behavior.exitCode}`;
    case "hang":
      return "hang";
  }
}
