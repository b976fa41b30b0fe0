import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { checkToken, presentedToken, tokenDigest } from "../../http/auth.js";
import { cookieValue } from "../../http/cookies.js";
import type { Html } from "../../http/html.js";
import { overHttps, pathOf, readBody } from "../../http/server.js";
import type { FeedEntry } from "../../state/event-feed.js";
import { DASHBOARD_SCRIPT, DASHBOARD_STYLE } from "./assets.js";
import { createLiveHub, type LiveHub } from "./live.js";
import type { OverviewReader } from "../overview.js";
import {
  ADMIN_HOME,
  EVENTS_PATH,
  LOGIN_PATH,
  LOGOUT_PATH,
  renderDashboard,
  renderLogin,
  renderRunnerPage,
  renderSections,
  SCRIPT_PATH,
  STYLE_PATH,
} from "./pages.js";
import type { Overview, RunnerDetail } from "../schemas.js";
import {
  FEED_MAX_LENGTH,
  LIVE_KEEPALIVE_MS,
  LIVE_POLL_MS,
  LIVE_REFRESH_MS,
  LIVE_STREAM_MAX_BUFFERED_BYTES,
  LIVE_STREAMS_PER_SESSION,
  LIVE_STREAMS_TOTAL,
  LOGIN_BODY_MAX_BYTES,
  LOGIN_FAILURE_WINDOW_MS,
  LOGIN_FAILURES_PER_WINDOW,
  LOGIN_THROTTLE_MAX_ADDRESSES,
  SESSION_TTL_MS,
} from "../../tunables.js";
import { createLoginThrottle, type LoginThrottle } from "./login-throttle.js";
import { issueSession, safeNext, SESSION_COOKIE, sessionCookie, sessionExpiresAt, verifySession } from "./session.js";

export interface BrowserDeps {
  adminToken: string;
  overview: OverviewReader;
  /** A runner as GET /admin/runners/{name} shows it, live or exited; undefined when unknown. */
  runnerDetail(name: string): Promise<RunnerDetail | undefined>;
  feed: { recent(count: number): Promise<FeedEntry[]>; lastId(): Promise<string> };
  log: Logger;
  now: () => number;
}

export interface BrowserUi {
  /** The pages anyone may see: the login form, logging in and out, the style sheet and script. */
  handlePublic(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** Whether the request carries a valid session cookie. */
  hasSession(req: IncomingMessage): boolean;
  /** The dashboard, its live stream and runner pages, for a request already authenticated. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  stop(): Promise<void>;
}

/** No inline script or style, no framing, no other origin: the page needs nothing else. */
const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

export function wantsHtml(req: IncomingMessage): boolean {
  return (req.headers.accept ?? "").includes("text/html");
}

function sendPage(res: ServerResponse, status: number, page: Html, headers: Record<string, string> = {}): true {
  res.writeHead(status, { ...PAGE_HEADERS, ...headers }).end(page.text);
  return true;
}

function redirect(res: ServerResponse, location: string, headers: Record<string, string> = {}): true {
  res.writeHead(303, { location, "cache-control": "no-store", ...headers }).end();
  return true;
}

/** The login form; undefined when it is larger than LOGIN_BODY_MAX_BYTES. */
async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  const text = await readBody(req, LOGIN_BODY_MAX_BYTES);
  return text === undefined ? undefined : new URLSearchParams(text);
}

function refuseStream(res: ServerResponse, message: string): true {
  res.writeHead(429, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(JSON.stringify({ error: message }));
  return true;
}

/** Open live streams by who holds them (a session's nonce, or "bearer" for the token), and their total. */
interface OpenStreams {
  byHolder: Map<string, Set<ServerResponse>>;
  count: number;
}

/** What the browser side works with, made once per handler. */
interface BrowserContext {
  deps: BrowserDeps;
  log: Logger;
  digest: Buffer;
  hub: LiveHub;
  throttle: LoginThrottle;
  streams: OpenStreams;
}

function hasSession(deps: BrowserDeps, req: IncomingMessage): boolean {
  return verifySession(cookieValue(req.headers.cookie, SESSION_COOKIE), deps.adminToken, deps.now());
}

async function login(ui: BrowserContext, req: IncomingMessage, res: ServerResponse): Promise<true> {
  const { deps, log, throttle } = ui;
  // Behind a reverse proxy every client shares the proxy's address (forwarded headers can be forged).
  const remoteAddress = req.socket.remoteAddress ?? "unknown";
  const waitMs = throttle.waitMs(remoteAddress, deps.now());
  if (waitMs !== undefined) {
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    log.warn({ remoteAddress, retryAfterSeconds: seconds }, "dashboard login throttled");
    const error = `Too many failed logins from your address; try again in ${seconds} s.`;
    return sendPage(res, 429, renderLogin({ next: "/admin", error }), { "retry-after": String(seconds) });
  }
  const form = await readForm(req);
  if (form === undefined) {
    res.writeHead(413, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
    res.end(`login form exceeds ${LOGIN_BODY_MAX_BYTES} bytes\n`);
    return true;
  }
  const next = safeNext(form.get("next"));
  const result = checkToken(form.get("token") ?? undefined, ui.digest);
  if (result !== "ok") {
    throttle.failed(remoteAddress, deps.now());
    log.warn({ reason: result, remoteAddress }, "dashboard login refused");
    const error = result === "missing" ? "Enter the admin token." : "Wrong admin token.";
    return sendPage(res, 401, renderLogin({ next, error }));
  }
  throttle.succeeded(remoteAddress);
  const session = issueSession(deps.adminToken, deps.now(), randomBytes(16).toString("base64url"));
  log.info({ remoteAddress }, "dashboard login");
  return redirect(res, next, {
    "set-cookie": sessionCookie(session, { secure: overHttps(req), maxAgeMs: SESSION_TTL_MS }),
  });
}

/**
 * Who holds a stream, and until when: the bearer token (no end), or the session cookie (its
 * expiry). Called for requests the handler already authenticated, the bearer token first.
 */
function holderOf(req: IncomingMessage): { key: string; endsAt: number | undefined } {
  const cookie = cookieValue(req.headers.cookie, SESSION_COOKIE);
  if (presentedToken(req.headers.authorization) !== undefined || cookie === undefined) {
    return { key: "bearer", endsAt: undefined };
  }
  return { key: `session:${cookie.split(".")[1] ?? ""}`, endsAt: sessionExpiresAt(cookie) };
}

/**
 * Counts a stream in, before its first read, so a burst of requests cannot slip past the caps
 * meanwhile; returns what ends it (and the clean-ups it runs then), or undefined when it was refused.
 */
function admitStream(
  ui: BrowserContext,
  holderKey: string,
  res: ServerResponse,
): { release: () => void; cleanups: (() => void)[] } | undefined {
  const { streams, log } = ui;
  const held = streams.byHolder.get(holderKey) ?? new Set<ServerResponse>();
  if (held.size >= LIVE_STREAMS_PER_SESSION) {
    log.warn(
      { holder: holderKey.split(":")[0], open: held.size },
      "dashboard stream refused: too many for one session",
    );
    refuseStream(res, `at most ${LIVE_STREAMS_PER_SESSION} live streams per session; close another dashboard tab`);
    return undefined;
  }
  if (streams.count >= LIVE_STREAMS_TOTAL) {
    log.warn({ open: streams.count }, "dashboard stream refused: too many open");
    refuseStream(res, `at most ${LIVE_STREAMS_TOTAL} live streams at once; try again later`);
    return undefined;
  }
  held.add(res);
  streams.byHolder.set(holderKey, held);
  streams.count += 1;
  /** What ends with the stream: its subscription and timers, added once it runs. */
  const cleanups: (() => void)[] = [];
  const release = () => {
    if (!held.delete(res)) return;
    streams.count -= 1;
    if (held.size === 0) streams.byHolder.delete(holderKey);
    for (const cleanup of cleanups) cleanup();
  };
  return { release, cleanups };
}

/**
 * A client that stopped reading is dropped, not buffered for without end. What is still
 * waiting is looked at before the next write: one update larger than the bound (a big
 * installation's first) is fine while the client takes it.
 */
function boundedWriter(log: Logger, req: IncomingMessage, res: ServerResponse): (chunk: string) => void {
  return (chunk) => {
    if (res.destroyed) return;
    if (res.writableLength > LIVE_STREAM_MAX_BUFFERED_BYTES) {
      log.warn(
        { bufferedBytes: res.writableLength, remoteAddress: req.socket.remoteAddress },
        "dashboard stream dropped: its client stopped reading",
      );
      res.destroy();
      return;
    }
    res.write(chunk);
  };
}

async function stream(ui: BrowserContext, req: IncomingMessage, res: ServerResponse): Promise<true> {
  const { deps } = ui;
  const holder = holderOf(req);
  const admitted = admitStream(ui, holder.key, res);
  if (!admitted) return true;
  const { release, cleanups } = admitted;
  res.once("close", release);
  let first: Overview;
  try {
    first = await deps.overview.overview();
  } catch (error) {
    release();
    throw error;
  }
  if (res.destroyed) return true;

  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-store",
    connection: "keep-alive",
    // Tells nginx-style proxies not to buffer the stream.
    "x-accel-buffering": "no",
  });
  const write = boundedWriter(ui.log, req, res);
  const send = (overview: Overview) => {
    const sections = Object.fromEntries(
      Object.entries(renderSections(overview)).map(([id, markup]) => [id, markup.text]),
    );
    write(`event: sections\ndata: ${JSON.stringify(sections)}\n\n`);
  };
  write("retry: 2000\n\n");
  send(first);
  cleanups.push(ui.hub.subscribe(send));
  const keepalive = setInterval(() => write(": keepalive\n\n"), LIVE_KEEPALIVE_MS);
  cleanups.push(() => clearInterval(keepalive));
  if (holder.endsAt !== undefined) {
    // A session ends at its expiry for its streams too; the page's next reconnect meets the login.
    const expiry = setTimeout(() => res.end(), Math.max(0, holder.endsAt - deps.now()));
    cleanups.push(() => clearTimeout(expiry));
  }
  return true;
}

async function runnerPage(deps: BrowserDeps, res: ServerResponse, name: string): Promise<true> {
  // The whole feed is read: the runner's entries are somewhere in it.
  const [detail, feed] = await Promise.all([deps.runnerDetail(name), deps.feed.recent(FEED_MAX_LENGTH)]);
  const events = feed.filter((event) => event.runnerName === name);
  return sendPage(res, detail ? 200 : 404, renderRunnerPage({ name, detail, events, now: deps.now() }));
}

async function handlePublic(ui: BrowserContext, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  const path = pathOf(req);
  const method = req.method ?? "GET";
  if (path === STYLE_PATH && method === "GET") {
    res.writeHead(200, { "content-type": "text/css; charset=utf-8", "cache-control": "no-cache" });
    res.end(DASHBOARD_STYLE);
    return true;
  }
  if (path === SCRIPT_PATH && method === "GET") {
    res.writeHead(200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache" });
    res.end(DASHBOARD_SCRIPT);
    return true;
  }
  if (path === LOGIN_PATH && method === "GET") {
    const next = safeNext(new URL(req.url ?? "/", "http://localhost").searchParams.get("next"));
    if (hasSession(ui.deps, req)) return redirect(res, next);
    return sendPage(res, 200, renderLogin({ next }));
  }
  if (path === LOGIN_PATH && method === "POST") return login(ui, req, res);
  if (path === LOGOUT_PATH && method === "POST") {
    return redirect(res, LOGIN_PATH, {
      "set-cookie": sessionCookie("", { secure: overHttps(req), maxAgeMs: 0 }),
    });
  }
  return false;
}

async function handleAuthenticated(ui: BrowserContext, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  const path = pathOf(req);
  if (req.method !== "GET") return false;
  if (path === ADMIN_HOME || path === `${ADMIN_HOME}/`) {
    return sendPage(res, 200, renderDashboard(await ui.deps.overview.overview()));
  }
  if (path === EVENTS_PATH) return stream(ui, req, res);
  const runner = /^\/admin\/runners\/([^/]+)$/.exec(path);
  if (runner && wantsHtml(req)) {
    let name: string;
    try {
      name = decodeURIComponent(runner[1] ?? "");
    } catch {
      return false;
    }
    return runnerPage(ui.deps, res, name);
  }
  return false;
}

/** The browser side of the admin area: log-in with a session cookie, the live dashboard, runner pages. */
export function createBrowserUi(deps: BrowserDeps): BrowserUi {
  const log = deps.log.child({ component: "dashboard" });
  const hub = createLiveHub({
    read: () => deps.overview.overview(),
    tip: () => deps.feed.lastId(),
    pollMs: LIVE_POLL_MS,
    refreshMs: LIVE_REFRESH_MS,
    log,
    now: deps.now,
  });
  const throttle = createLoginThrottle({
    limit: LOGIN_FAILURES_PER_WINDOW,
    windowMs: LOGIN_FAILURE_WINDOW_MS,
    maxAddresses: LOGIN_THROTTLE_MAX_ADDRESSES,
  });
  const ui: BrowserContext = {
    deps,
    log,
    digest: tokenDigest(deps.adminToken),
    hub,
    throttle,
    streams: { byHolder: new Map(), count: 0 },
  };
  return {
    handlePublic: (req, res) => handlePublic(ui, req, res),
    hasSession: (req) => hasSession(deps, req),
    handle: (req, res) => handleAuthenticated(ui, req, res),
    stop: () => hub.stop(),
  };
}
