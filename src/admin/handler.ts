import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { ContainerEngine } from "../docker/engine.js";
import type { RunnersApi } from "../github/runners-api.js";
import { checkToken, presentedToken, tokenDigest, type AuthResult } from "../http/auth.js";
import { pathOf, type Handler } from "../http/server.js";
import type { ImageStore } from "../images/image-store.js";
import type { Metrics } from "../observability/metrics.js";
import type { PoolCatalog } from "../pools/catalog.js";
import type { CrashLoopStore } from "../pools/crash-loop-store.js";
import type { PoolOverrides } from "../pools/overrides.js";
import type { Queues } from "../queue/queues.js";
import type { Slots } from "../slots/slots.js";
import type { RunnerStore } from "../state/runner-store.js";
import { DASHBOARD_PING_TIMEOUT_MS } from "../tunables.js";
import { poolRoutes } from "./api/pools.js";
import { engineRoutes } from "./api/engines.js";
import type { EngineDirectory } from "../state/engine-directory.js";
import { installationRoutes, type InstallationApiDeps } from "./api/installations.js";
import { queueRoutes } from "./api/queue.js";
import { errorReply, send, type Routes } from "./api/reply.js";
import { matchRoute, type Method } from "./api/routing.js";
import { runnerDetailOf, runnerRoutes } from "./api/runners.js";
import { BULL_BOARD_PATH, openApiDocument, ROUTE_DOCS, type RouteKey } from "./api/spec.js";
import { createBrowserUi, wantsHtml, type BrowserDeps, type BrowserUi } from "./dashboard/browser.js";
import { createBullBoardHandler, type BullBoard } from "./dashboard/bull-board.js";
import { LOGIN_PATH } from "./dashboard/pages.js";
import { createOverviewReader, type OverviewDeps, type OverviewReader } from "./overview.js";

export interface AdminDeps {
  /** Undefined: every /admin route answers 503. */
  adminToken: string | undefined;
  pools: PoolCatalog;
  overrides: PoolOverrides;
  runners: RunnerStore;
  slots: Slots;
  queues: Queues;
  ledger: OverviewDeps["ledger"] & InstallationApiDeps["ledger"];
  github: RunnersApi;
  /** Each installation's GitHub budget (GET /admin/installations), and its size. */
  githubBudget: Pick<InstallationApiDeps, "budget" | "burstPoints">;
  /** The engine this process is bound to (worker role): live logs of its runners are read there. */
  engine?: ContainerEngine | undefined;
  /** RUNNERHUB_ENGINE_CAPACITY of that engine, shown on the dashboard. */
  engineCapacity?: number | undefined;
  heartbeats: OverviewDeps["heartbeats"];
  /** Engines' placement profiles and drain state (drained and undrained here). */
  engines: EngineDirectory;
  /** Each pool's last hour (charts) and its warm target. */
  history: OverviewDeps["history"];
  heartbeatTimeoutMs: number;
  feed: BrowserDeps["feed"];
  /** Image states per engine, for the pools' image status. */
  imageStore: ImageStore;
  /** Pools whose runners keep ending before a job: shown, and reset by an operator. */
  crashLoops: CrashLoopStore;
  /** Recent queued jobs no pool serves. */
  unmatched: OverviewDeps["unmatched"];
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

const ROUTE_TABLE = (Object.keys(ROUTE_DOCS) as RouteKey[]).map((key) => ({
  key,
  method: ROUTE_DOCS[key].method as Method,
  template: ROUTE_DOCS[key].template,
}));

function overviewReader(deps: AdminDeps): OverviewReader {
  const engine = deps.engine;
  return createOverviewReader({
    pools: deps.pools,
    overrides: deps.overrides,
    runners: deps.runners,
    slots: deps.slots,
    queues: deps.queues,
    ledger: deps.ledger,
    feed: deps.feed,
    heartbeats: deps.heartbeats,
    heartbeatTimeoutMs: deps.heartbeatTimeoutMs,
    imageStore: deps.imageStore,
    crashLoops: deps.crashLoops,
    history: deps.history,
    unmatched: deps.unmatched,
    engines: deps.engines,
    now: deps.now,
    localEngine: engine && {
      name: engine.name,
      capacity: deps.engineCapacity,
      ping: () => engine.ping(DASHBOARD_PING_TIMEOUT_MS),
    },
  });
}

/** Every API route by its key: pools, runners, the provision queue, the overview and the OpenAPI description. */
function apiRoutes(deps: AdminDeps, overview: OverviewReader, log: Logger): Routes {
  const provision = deps.queues.provision;
  const openapi = openApiDocument();
  return {
    ...poolRoutes({
      pools: deps.pools,
      overrides: deps.overrides,
      slots: deps.slots,
      provision,
      crashLoops: deps.crashLoops,
      overview,
      metrics: deps.metrics,
      log,
      now: deps.now,
    }),
    ...runnerRoutes({
      runners: deps.runners,
      github: deps.github,
      runnerOpsQueue: (engine) => deps.queues.runnerOps(engine),
      engine: deps.engine,
      log,
    }),
    ...queueRoutes({ provision, log }),
    ...installationRoutes({ ...deps.githubBudget, ledger: deps.ledger, runners: deps.runners, now: deps.now }),
    "GET /admin/jobs/unmatched": async () => ({ status: 200, body: { jobs: await deps.unmatched.recent() } }),
    ...engineRoutes({ engines: deps.engines, overview, log, now: deps.now }),
    "GET /admin/overview": async () => ({ status: 200, body: await overview.overview() }),
    "GET /admin/openapi.json": async () => ({ status: 200, body: openapi }),
  };
}

/**
 * Browsers hold a session cookie (see dashboard/session.ts) instead of the token. It opens pages
 * and reads; writes take the bearer token, except Bull Board's own buttons (SameSite=Strict keeps
 * other sites from sending the cookie).
 */
function authenticate(req: IncomingMessage, browser: BrowserUi, expectedDigest: Buffer, onBullBoard: boolean) {
  const presented = presentedToken(req.headers.authorization);
  const cookieOpens = onBullBoard || req.method === "GET" || req.method === "HEAD";
  if (presented === undefined && cookieOpens && browser.hasSession(req)) return "ok";
  return checkToken(presented, expectedDigest);
}

/** A browser without a session is sent to the login page; anything else gets a 401 with its reason. */
async function refuse(
  req: IncomingMessage,
  res: ServerResponse,
  auth: Exclude<AuthResult, "ok">,
  log: Logger,
): Promise<true> {
  const path = pathOf(req);
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
    ...errorReply(
      401,
      auth === "missing"
        ? `admin token required: send Authorization: Bearer <ADMIN_TOKEN>, or log in at ${LOGIN_PATH}`
        : "wrong admin token",
    ),
    headers: { "www-authenticate": bearer },
  });
}

async function serveBullBoard(bullBoard: BullBoard, req: IncomingMessage, res: ServerResponse): Promise<true> {
  for (const [name, value] of Object.entries(BULL_BOARD_HEADERS)) res.setHeader(name, value);
  return (await bullBoard.handle(req, res)) || send(res, errorReply(404, `no dashboard page ${pathOf(req)}`));
}

async function dispatch(routes: Routes, req: IncomingMessage, res: ServerResponse): Promise<true> {
  const path = pathOf(req);
  const method = req.method ?? "GET";
  const match = matchRoute(ROUTE_TABLE, method, path);
  if (match.kind === "not-found") return send(res, errorReply(404, `no admin route ${method} ${path}`));
  if (match.kind === "method-not-allowed") {
    return send(res, {
      ...errorReply(405, `${method} is not allowed on ${path}`),
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
}

/**
 * The admin API under /admin (bearer ADMIN_TOKEN): pools and their run-time limits, runners and
 * draining, provision-queue inspection, the OpenAPI description and the Bull Board dashboard.
 */
export async function createAdminHandler(deps: AdminDeps): Promise<AdminHandler> {
  const log = deps.log.child({ component: "admin" });
  // The config refuses a token shorter than 16 characters at start-up.
  const expectedDigest = deps.adminToken === undefined ? undefined : tokenDigest(deps.adminToken);
  const bullBoard = createBullBoardHandler(deps.queues, async () => [
    ...new Set((await deps.runners.list()).map((record) => record.engine)),
  ]);
  const overview = overviewReader(deps);
  const routes = apiRoutes(deps, overview, log);
  const browser =
    deps.adminToken === undefined
      ? undefined
      : createBrowserUi({
          adminToken: deps.adminToken,
          overview,
          runnerDetail: (name) => runnerDetailOf(deps.runners, name),
          feed: deps.feed,
          log: deps.log,
          now: deps.now,
        });

  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = pathOf(req);
    if (path !== ADMIN_PREFIX && !path.startsWith(`${ADMIN_PREFIX}/`)) return false;
    if (expectedDigest === undefined || browser === undefined)
      return send(res, errorReply(503, ADMIN_DISABLED_MESSAGE));
    if (await browser.handlePublic(req, res)) return true;

    const onBullBoard = path === BULL_BOARD_PATH || path.startsWith(`${BULL_BOARD_PATH}/`);
    const auth = authenticate(req, browser, expectedDigest, onBullBoard);
    if (auth !== "ok") return refuse(req, res, auth, log);
    if (await browser.handle(req, res)) return true;
    if (onBullBoard) return serveBullBoard(bullBoard, req, res);
    return dispatch(routes, req, res);
  };
  return Object.assign(handler, { stop: async () => browser?.stop() });
}
