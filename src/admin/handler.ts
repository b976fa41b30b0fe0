import type { IncomingMessage, ServerResponse } from "node:http";
import { pipeline } from "node:stream/promises";
import type { Job } from "bullmq";
import type { Logger } from "pino";
import type { Pool } from "../config/pools.js";
import type { ContainerEngine } from "../docker/engine.js";
import type { RunnersApi } from "../github/runners-api.js";
import { DASHBOARD_PING_TIMEOUT_MS, KEPT_LOG_BYTES } from "../tunables.js";
import { maskingStream, maskSecrets, secretValuesOf, tailOf } from "../lifecycle/runner-logs.js";
import { checkToken, presentedToken, tokenDigest } from "../http/auth.js";
import { pathOf, readBody, sendJson, type Handler } from "../http/server.js";
import { swallowInto } from "../observability/internal-errors.js";
import type { Metrics } from "../observability/metrics.js";
import { drainRunner } from "../lifecycle/drain.js";
import { overrideProblems, poolOverrideSchema, type PoolOverrides } from "../pools/overrides.js";
import type { Slots } from "../slots/slots.js";
import type { ProvisionRequest } from "../queue/jobs.js";
import type { Queues } from "../queue/queues.js";
import type { CrashLoopStore } from "../state/crash-loops.js";
import type { ImageStore } from "../state/image-store.js";
import type { RunnerRecord, RunnerStore } from "../state/runner-store.js";
import { BULL_BOARD_PATH, openApiDocument, ROUTE_DOCS, type RouteKey } from "./api-spec.js";
import { createBrowserUi, wantsHtml, type BrowserDeps } from "./dashboard/browser.js";
import { createBullBoardHandler } from "./dashboard/bull-board.js";
import { createOverviewReader, present, queueCounts, type OverviewDeps } from "./overview.js";
import { LOGIN_PATH } from "./dashboard/pages.js";
import { matchRoute, type Method } from "./routing.js";
import {
  drainQuerySchema,
  jobsQuerySchema,
  logsQuerySchema,
  runnersQuerySchema,
  type ErrorBody,
  type FieldProblem,
  type RunnerDetail,
} from "./schemas.js";
import {
  fieldProblems,
  jobView,
  pageCount,
  pageRange,
  runnerDetail,
  runnerView,
  selectRunners,
  slotsToWake,
} from "./views.js";

export interface AdminDeps {
  /** Undefined: every /admin route answers 503. */
  adminToken: string | undefined;
  /** The pools as the file declares them. */
  pools: readonly Pool[];
  overrides: PoolOverrides;
  runners: RunnerStore;
  slots: Slots;
  queues: Queues;
  ledger: OverviewDeps["ledger"];
  github: RunnersApi;
  /** The engine this process is bound to (worker role): live logs of its runners are read there. */
  engine?: ContainerEngine | undefined;
  /** RUNNERHUB_ENGINE_CAPACITY of that engine, shown on the dashboard. */
  engineCapacity?: number | undefined;
  heartbeats: OverviewDeps["heartbeats"];
  heartbeatTimeoutMs: number;
  feed: BrowserDeps["feed"];
  /** Image states per engine, for the pools' image status. */
  imageStore: ImageStore;
  /** Pools whose runners keep ending before a job: shown, and reset by an operator. */
  crashLoops: CrashLoopStore;
  /** Counts errors the admin goes on without (runnerhub_internal_errors_total). */
  metrics: Pick<Metrics, "internalErrors">;
  log: Logger;
  now: () => number;
}

/** The admin routes as one handler; stop() ends the dashboard's live updates. */
export type AdminHandler = Handler & { stop(): Promise<void> };

export const ADMIN_DISABLED_MESSAGE = "admin API disabled: set ADMIN_TOKEN (at least 16 characters) to enable it";
const ADMIN_PREFIX = "/admin";
const REALM = 'realm="runnerhub admin"';
const BODY_LIMIT_BYTES = 64 * 1024;
const OVERRIDE_FIELDS = Object.keys(poolOverrideSchema.shape);
/**
 * Bull Board's pages: its own scripts (and their highlight worker), its inline styles, its API;
 * nothing from another origin (its Google Fonts link is refused, the fonts fall back), no framing.
 */
const BULL_BOARD_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; worker-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};
/** Lines read for a running container's tail (cut to KEPT_LOG_BYTES.abnormal), and before following it. */
const LIVE_TAIL_LINES = 2000;
const FOLLOW_TAIL_LINES = 200;

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** A text/plain answer instead of JSON. */
  text?: string;
  /** A text/plain answer written as it comes (followed logs); resolves when it is done. */
  stream?: (res: ServerResponse) => Promise<void>;
}

interface RouteContext {
  req: IncomingMessage;
  query: Record<string, string>;
  params: Record<string, string>;
}

type RouteImpl = (ctx: RouteContext) => Promise<Reply>;

const error = (status: number, message: string, details?: FieldProblem[]): Reply => {
  const body: ErrorBody = details && details.length > 0 ? { error: message, details } : { error: message };
  return { status, body };
};

type BodyResult = { ok: true; value: unknown } | { ok: false; reply: Reply };

async function readJsonBody(req: IncomingMessage): Promise<BodyResult> {
  const tooLarge = error(413, `request body exceeds ${BODY_LIMIT_BYTES} bytes`);
  const text = await readBody(req, BODY_LIMIT_BYTES);
  if (text === undefined) return { ok: false, reply: tooLarge };
  if (text.trim() === "") {
    return {
      ok: false,
      reply: error(400, "request body is empty; send a JSON object", [{ field: "body", message: "required" }]),
    };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (failure) {
    return {
      ok: false,
      reply: error(400, "request body is not valid JSON", [{ field: "body", message: (failure as Error).message }]),
    };
  }
}

async function send(res: ServerResponse, reply: Reply): Promise<true> {
  res.setHeader("cache-control", "no-store");
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  if (reply.stream || reply.text !== undefined) {
    res.writeHead(reply.status, { "content-type": "text/plain; charset=utf-8" });
    if (reply.stream) await reply.stream(res);
    else res.end(reply.text);
    return true;
  }
  if (reply.body === undefined) {
    res.writeHead(reply.status).end();
    return true;
  }
  return sendJson(res, reply.status, reply.body);
}

/**
 * The admin API under /admin (bearer ADMIN_TOKEN): pools and their run-time limits, runners and
 * draining, provision-queue inspection, the OpenAPI description and the Bull Board dashboard.
 */
export async function createAdminHandler(deps: AdminDeps): Promise<AdminHandler> {
  const log = deps.log.child({ component: "admin" });
  // The config refuses a token shorter than 16 characters at start-up.
  const expectedDigest = deps.adminToken === undefined ? undefined : tokenDigest(deps.adminToken);
  const provision = deps.queues.provision;
  const bullBoard = createBullBoardHandler(deps.queues, async () => [
    ...new Set((await deps.runners.list()).map((record) => record.engine)),
  ]);
  const openapi = openApiDocument();

  async function detailOf(name: string): Promise<RunnerDetail | undefined> {
    const live = await deps.runners.get(name);
    if (live) return runnerDetail({ live });
    const exited = await deps.runners.exitOf(name);
    return exited && runnerDetail({ exited, logs: await deps.runners.logsOf(name) });
  }

  const engine = deps.engine;
  const reader = createOverviewReader({
    ...deps,
    localEngine: engine && {
      name: engine.name,
      capacity: deps.engineCapacity,
      ping: () => engine.ping(DASHBOARD_PING_TIMEOUT_MS),
    },
  });
  const browser =
    deps.adminToken === undefined
      ? undefined
      : createBrowserUi({ ...deps, adminToken: deps.adminToken, overview: reader, runnerDetail: detailOf });

  /** A raised limit frees room that parked demand would otherwise only notice at its fallback delay. */
  async function wakeParked(pool: Pool, maxRunners: number): Promise<number> {
    const now = deps.now();
    const [holders, parked] = await Promise.all([
      deps.slots.holders(pool.name, now),
      deps.slots.parkedCount("pool", pool.name),
    ]);
    let woken = 0;
    for (let budget = slotsToWake(maxRunners, holders.length, parked); budget > 0; budget--) {
      if (!(await deps.slots.wakePool(pool.name))) break;
      woken += 1;
    }
    return woken;
  }

  /**
   * Demand sleeping through a crash-loop backoff (delayed entries of the pool; entries parked on a
   * full pool among them, which look again and park again) is woken once the loop is reset.
   */
  async function wakeDeferred(pool: string): Promise<number> {
    let woken = 0;
    for (const entry of present(await provision.getJobs(["delayed"]))) {
      if (entry.data.pool !== pool) continue;
      // An entry that woke or went since it was listed cannot be promoted; it runs anyway.
      const promoted = await entry
        .promote()
        .then(() => true)
        .catch(
          swallowInto(
            { log, metrics: deps.metrics },
            {
              where: "admin.wake-deferred",
              message: "could not wake a provision entry deferred by a crash loop; it runs when its delay ends",
              fields: { pool, queueJobId: entry.id },
            },
          ),
        );
      if (promoted) woken += 1;
    }
    return woken;
  }

  async function loadJob(id: string): Promise<{ job: Job<ProvisionRequest>; state: string } | undefined> {
    const job = await provision.getJob(id);
    if (!job) return undefined;
    return { job, state: await job.getState() };
  }

  const noJob = (id: string) => error(404, `no provision-queue entry with id "${id}"`);
  const noRunner = (name: string) => error(404, `no runner named "${name}", live or exited within the last day`);

  /** Live logs need the engine the container runs on; a process bound to another engine says where to ask. */
  function liveContainer(record: RunnerRecord): { engine: ContainerEngine; containerId: string } | Reply {
    if (record.containerId === undefined)
      return error(409, `runner "${record.name}" has no container yet; try again in a moment`);
    if (!deps.engine || deps.engine.name !== record.engine) {
      return error(
        409,
        `runner "${record.name}" runs on engine "${record.engine}", which this process is not bound to; ask a runnerhub worker process of that engine`,
      );
    }
    return { engine: deps.engine, containerId: record.containerId };
  }

  async function followLogs(engine: ContainerEngine, containerId: string, name: string): Promise<Reply> {
    const [env, follow] = await Promise.all([
      engine.environment(containerId),
      engine.followLogs(containerId, FOLLOW_TAIL_LINES),
    ]);
    return {
      status: 200,
      async stream(res) {
        // A client that goes away (or a server that shuts down) ends the Docker stream too.
        res.once("close", () => follow.close());
        try {
          await pipeline(follow.stream, maskingStream(secretValuesOf(env ?? [])), res);
        } catch (failure) {
          log.debug({ err: failure, runnerName: name }, "log follow ended early");
        } finally {
          follow.close();
        }
      },
    };
  }

  const routes: Record<RouteKey, RouteImpl> = {
    async "GET /admin/pools"() {
      return { status: 200, body: { pools: await reader.pools(deps.pools) } };
    },

    async "PATCH /admin/pools/{name}"({ req, params }) {
      const name = params.name ?? "";
      const pool = deps.pools.find((candidate) => candidate.name === name);
      if (!pool) return error(404, `no pool named "${name}"; pools: ${deps.pools.map((p) => p.name).join(", ")}`);
      const body = await readJsonBody(req);
      if (!body.ok) return body.reply;
      const parsed = poolOverrideSchema.safeParse(body.value);
      if (!parsed.success)
        return error(400, "invalid pool change", fieldProblems(parsed.error.issues, "body", OVERRIDE_FIELDS));
      const current = (await deps.overrides.all())[pool.name] ?? {};
      const problems = overrideProblems(pool, { ...current, ...parsed.data });
      if (problems.length > 0) return error(400, "invalid pool change", problems);
      const override = await deps.overrides.merge(pool.name, parsed.data);
      const woken = await wakeParked(pool, override.maxRunners ?? pool.maxRunners);
      log.info({ pool: pool.name, change: parsed.data, override, woken }, "pool limits changed");
      const [view] = await reader.pools([pool]);
      return { status: 200, body: view };
    },

    async "DELETE /admin/pools/{name}/crash-loop"({ params }) {
      const name = params.name ?? "";
      const pool = deps.pools.find((candidate) => candidate.name === name);
      if (!pool) return error(404, `no pool named "${name}"; pools: ${deps.pools.map((p) => p.name).join(", ")}`);
      const ended = await deps.crashLoops.clear(pool.name);
      const woken = ended ? await wakeDeferred(pool.name) : 0;
      log.info({ pool: pool.name, ended, woken }, "crash loop reset by an operator");
      const [view] = await reader.pools([pool]);
      return { status: 200, body: view };
    },

    async "GET /admin/runners"({ query }) {
      const parsed = runnersQuerySchema.safeParse(query);
      if (!parsed.success) return error(400, "invalid query", fieldProblems(parsed.error.issues, "query"));
      return { status: 200, body: { runners: selectRunners(await deps.runners.list(), parsed.data.pool) } };
    },

    async "GET /admin/runners/{name}"({ params }) {
      const name = params.name ?? "";
      const detail = await detailOf(name);
      return detail ? { status: 200, body: detail } : noRunner(name);
    },

    async "GET /admin/runners/{name}/logs"({ query, params }) {
      const parsed = logsQuerySchema.safeParse(query);
      if (!parsed.success) return error(400, "invalid query", fieldProblems(parsed.error.issues, "query"));
      const name = params.name ?? "";
      const live = await deps.runners.get(name);
      if (!live) {
        // Its container is gone: the kept lines are all there is, followed or not.
        if (!(await deps.runners.exitOf(name))) return noRunner(name);
        return { status: 200, text: (await deps.runners.logsOf(name)) ?? "" };
      }
      const container = liveContainer(live);
      if ("status" in container) return container;
      if (parsed.data.follow) return followLogs(container.engine, container.containerId, name);
      const [env, text] = await Promise.all([
        container.engine.environment(container.containerId),
        container.engine.logTail(container.containerId, LIVE_TAIL_LINES),
      ]);
      return {
        status: 200,
        text: tailOf(maskSecrets(text ?? "", secretValuesOf(env ?? [])), KEPT_LOG_BYTES.abnormal),
      };
    },

    async "DELETE /admin/runners/{name}"({ query, params }) {
      const parsed = drainQuerySchema.safeParse(query);
      if (!parsed.success) return error(400, "invalid query", fieldProblems(parsed.error.issues, "query"));
      const name = params.name ?? "";
      const outcome = await drainRunner(
        { runners: deps.runners, github: deps.github, runnerOpsQueue: (engine) => deps.queues.runnerOps(engine), log },
        name,
        parsed.data.force,
      );
      switch (outcome.kind) {
        case "not-found":
          return error(404, `no live runner named "${name}"`);
        case "busy":
          return error(
            409,
            `runner "${name}" is busy on job ${outcome.githubJobId}; draining it now fails that job (add ?force=true to do it anyway)`,
          );
        case "github-failed":
          return error(
            502,
            `GitHub answered ${outcome.status ?? "with an error"} when asked to delete the registration of runner "${name}"; the runner keeps running`,
          );
        case "took-job":
          return error(
            409,
            `GitHub refused to delete runner "${name}": it has just taken a job (add ?force=true to stop it anyway)`,
          );
        case "drained":
          return {
            status: 202,
            body: {
              runner: runnerView(outcome.record),
              stop: { queue: outcome.stop.queue, jobId: outcome.stop.queueJobId, reason: outcome.reason },
              registrationDeleted: outcome.registrationDeleted,
            },
          };
      }
    },

    async "GET /admin/queue"() {
      return { status: 200, body: { queue: provision.name, counts: await queueCounts(provision) } };
    },

    async "GET /admin/queue/jobs"({ query }) {
      const parsed = jobsQuerySchema.safeParse(query);
      if (!parsed.success) return error(400, "invalid query", fieldProblems(parsed.error.issues, "query"));
      const { state, page, perPage } = parsed.data;
      const { start, end } = pageRange(page, perPage);
      const [total, jobs] = await Promise.all([
        provision.getJobCountByTypes(state),
        provision.getJobs([state], start, end),
      ]);
      return {
        status: 200,
        body: {
          state,
          page,
          perPage,
          total,
          pages: pageCount(total, perPage),
          jobs: present<Job<ProvisionRequest>>(jobs).map((job) => jobView(job, state)),
        },
      };
    },

    async "GET /admin/queue/jobs/{id}"({ params }) {
      const id = params.id ?? "";
      const found = await loadJob(id);
      return found ? { status: 200, body: jobView(found.job, found.state) } : noJob(id);
    },

    async "POST /admin/queue/jobs/{id}/retry"({ params }) {
      const id = params.id ?? "";
      const found = await loadJob(id);
      if (!found) return noJob(id);
      if (found.state !== "failed")
        return error(409, `entry "${id}" is ${found.state}; only failed entries can be retried`);
      await found.job.retry("failed");
      const retried = await loadJob(id);
      log.info({ queueJobId: id }, "failed provision entry retried");
      return retried ? { status: 200, body: jobView(retried.job, retried.state) } : noJob(id);
    },

    async "DELETE /admin/queue/jobs/{id}"({ params }) {
      const id = params.id ?? "";
      const found = await loadJob(id);
      if (!found) return noJob(id);
      if (found.state === "active")
        return error(409, `entry "${id}" is being provisioned by a worker; it cannot be removed now`);
      await found.job.remove();
      log.info({ queueJobId: id, state: found.state }, "provision entry removed");
      return { status: 204 };
    },

    async "GET /admin/overview"() {
      return { status: 200, body: await reader.overview() };
    },

    async "GET /admin/openapi.json"() {
      return { status: 200, body: openapi };
    },
  };

  const table = (Object.keys(ROUTE_DOCS) as RouteKey[]).map((key) => ({
    key,
    method: ROUTE_DOCS[key].method as Method,
    template: ROUTE_DOCS[key].template,
  }));

  /**
   * Browsers hold a session cookie (see session.ts) instead of the token. It opens pages and
   * reads; writes take the bearer token, except Bull Board's own buttons (SameSite=Strict keeps
   * other sites from sending the cookie).
   */
  const cookieOpens = (req: IncomingMessage, onBullBoard: boolean) =>
    browser !== undefined && (onBullBoard || req.method === "GET" || req.method === "HEAD") && browser.hasSession(req);

  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = pathOf(req);
    if (path !== ADMIN_PREFIX && !path.startsWith(`${ADMIN_PREFIX}/`)) return false;
    if (expectedDigest === undefined || browser === undefined) return send(res, error(503, ADMIN_DISABLED_MESSAGE));
    if (await browser.handlePublic(req, res)) return true;

    const onBullBoard = path === BULL_BOARD_PATH || path.startsWith(`${BULL_BOARD_PATH}/`);
    const presented = presentedToken(req.headers.authorization);
    const auth =
      presented === undefined && cookieOpens(req, onBullBoard) ? "ok" : checkToken(presented, expectedDigest);
    if (auth !== "ok") {
      log.warn(
        { method: req.method, path, reason: auth, remoteAddress: req.socket.remoteAddress },
        "admin request refused",
      );
      if (auth === "missing" && req.method === "GET" && wantsHtml(req)) {
        res.writeHead(303, { location: `${LOGIN_PATH}?next=${encodeURIComponent(req.url ?? path)}` }).end();
        return true;
      }
      const bearer = auth === "wrong" ? `Bearer ${REALM}, error="invalid_token"` : `Bearer ${REALM}`;
      return send(res, {
        ...error(
          401,
          auth === "missing"
            ? `admin token required: send Authorization: Bearer <ADMIN_TOKEN>, or log in at ${LOGIN_PATH}`
            : "wrong admin token",
        ),
        headers: { "www-authenticate": bearer },
      });
    }

    if (await browser.handle(req, res)) return true;
    if (onBullBoard) {
      for (const [name, value] of Object.entries(BULL_BOARD_HEADERS)) res.setHeader(name, value);
      return (await bullBoard.handle(req, res)) || send(res, error(404, `no dashboard page ${path}`));
    }

    const method = req.method ?? "GET";
    const match = matchRoute(table, method, path);
    if (match.kind === "not-found") return send(res, error(404, `no admin route ${method} ${path}`));
    if (match.kind === "method-not-allowed") {
      return send(res, {
        ...error(405, `${method} is not allowed on ${path}`),
        headers: { allow: match.allow.join(", ") },
      });
    }
    const url = new URL(req.url ?? "/", "http://localhost");
    const reply = await routes[match.route.key]({
      req,
      query: Object.fromEntries(url.searchParams),
      params: match.params,
    });
    return send(res, reply);
  };
  return Object.assign(handler, { stop: async () => browser?.stop() });
}
