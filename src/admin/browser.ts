import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { pathOf } from "../http/server.js";
import type { FeedEntry } from "../state/event-feed.js";
import { DASHBOARD_SCRIPT, DASHBOARD_STYLE } from "./assets.js";
import { checkToken, tokenDigest } from "./auth.js";
import type { Html } from "./html.js";
import { createLiveHub, type LiveHub } from "./live.js";
import type { OverviewReader } from "./overview.js";
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
import type { Overview, RunnerDetail } from "./schemas.js";
import { FEED_MAX_LENGTH, LIVE_KEEPALIVE_MS, LIVE_POLL_MS, LIVE_REFRESH_MS, SESSION_TTL_MS } from "../tunables.js";
import { cookieValue, issueSession, safeNext, SESSION_COOKIE, sessionCookie, verifySession } from "./session.js";

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

const LOGIN_BODY_LIMIT = 8 * 1024;

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

/** The session cookie gets Secure when the browser reached us over HTTPS (directly or via a proxy). */
function overHttps(req: IncomingMessage): boolean {
  const socket = req.socket as { encrypted?: boolean };
  return socket.encrypted === true || req.headers["x-forwarded-proto"] === "https";
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= LOGIN_BODY_LIMIT) chunks.push(chunk);
  }
  return size > LOGIN_BODY_LIMIT ? undefined : new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

/** The browser side of the admin area: log-in with a session cookie, the live dashboard, runner pages. */
export function createBrowserUi(deps: BrowserDeps): BrowserUi {
  const log = deps.log.child({ component: "dashboard" });
  const digest = tokenDigest(deps.adminToken);
  const hub: LiveHub = createLiveHub({
    read: () => deps.overview.overview(),
    tip: () => deps.feed.lastId(),
    pollMs: LIVE_POLL_MS,
    refreshMs: LIVE_REFRESH_MS,
    log,
    now: deps.now,
  });

  async function login(req: IncomingMessage, res: ServerResponse): Promise<true> {
    const form = await readForm(req);
    const next = safeNext(form?.get("next"));
    const result = checkToken(form?.get("token") ?? undefined, digest);
    if (result !== "ok") {
      log.warn({ reason: result, remoteAddress: req.socket.remoteAddress }, "dashboard login refused");
      const error = result === "missing" ? "Enter the admin token." : "Wrong admin token.";
      return sendPage(res, 401, renderLogin({ next, error }));
    }
    const session = issueSession(deps.adminToken, deps.now(), randomBytes(16).toString("base64url"));
    log.info({ remoteAddress: req.socket.remoteAddress }, "dashboard login");
    return redirect(res, next, {
      "set-cookie": sessionCookie(session, { secure: overHttps(req), maxAgeMs: SESSION_TTL_MS }),
    });
  }

  function stream(req: IncomingMessage, res: ServerResponse, first: Overview): true {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
      // Tells nginx-style proxies not to buffer the stream.
      "x-accel-buffering": "no",
    });
    const send = (overview: Overview) => {
      const sections = Object.fromEntries(
        Object.entries(renderSections(overview)).map(([id, markup]) => [id, markup.text]),
      );
      res.write(`event: sections\ndata: ${JSON.stringify(sections)}\n\n`);
    };
    res.write("retry: 2000\n\n");
    send(first);
    const unsubscribe = hub.subscribe(send);
    const keepalive = setInterval(() => res.write(": keepalive\n\n"), LIVE_KEEPALIVE_MS);
    req.once("close", () => {
      clearInterval(keepalive);
      unsubscribe();
    });
    return true;
  }

  async function runnerPage(res: ServerResponse, name: string): Promise<true> {
    // The whole feed is read: the runner's entries are somewhere in it.
    const [detail, feed] = await Promise.all([deps.runnerDetail(name), deps.feed.recent(FEED_MAX_LENGTH)]);
    const events = feed.filter((event) => event.runnerName === name);
    return sendPage(res, detail ? 200 : 404, renderRunnerPage({ name, detail, events, now: deps.now() }));
  }

  const hasSession = (req: IncomingMessage) =>
    verifySession(cookieValue(req.headers.cookie, SESSION_COOKIE), deps.adminToken, deps.now());

  return {
    async handlePublic(req, res) {
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
        if (hasSession(req)) return redirect(res, next);
        return sendPage(res, 200, renderLogin({ next }));
      }
      if (path === LOGIN_PATH && method === "POST") return login(req, res);
      if (path === LOGOUT_PATH && method === "POST") {
        return redirect(res, LOGIN_PATH, {
          "set-cookie": sessionCookie("", { secure: overHttps(req), maxAgeMs: 0 }),
        });
      }
      return false;
    },

    hasSession,

    async handle(req, res) {
      const path = pathOf(req);
      if (req.method !== "GET") return false;
      if (path === ADMIN_HOME || path === `${ADMIN_HOME}/`) {
        return sendPage(res, 200, renderDashboard(await deps.overview.overview()));
      }
      if (path === EVENTS_PATH) return stream(req, res, await deps.overview.overview());
      const runner = /^\/admin\/runners\/([^/]+)$/.exec(path);
      if (runner && wantsHtml(req)) {
        let name: string;
        try {
          name = decodeURIComponent(runner[1] ?? "");
        } catch {
          return false;
        }
        return runnerPage(res, name);
      }
      return false;
    },

    stop: () => hub.stop(),
  };
}
