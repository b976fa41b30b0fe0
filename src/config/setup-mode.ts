import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import path from "node:path";
import { parseEnv } from "node:util";
import type { Logger } from "pino";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { checkToken, presentedToken, tokenDigest } from "../http/auth.js";
import { cookieValue } from "../http/cookies.js";
import type { Html } from "../http/html.js";
import { listen, overHttps, pathOf, readBody, sendJson } from "../http/server.js";
import { createLogger } from "../observability/logger.js";
import { SETUP_BODY_MAX_BYTES, SETUP_GITHUB_TIMEOUT_MS, SETUP_TOKEN_BYTES } from "../tunables.js";
import type { SetupConfig } from "./load.js";
import {
  createAppUrl,
  manifestOf,
  renderDonePage,
  renderImportPage,
  renderSetupPage,
  SETUP_HOME,
  SETUP_IMPORT,
  SETUP_RETURN,
  type AppManifest,
} from "./setup-pages.js";

/** One KEY=value line that Node's env-file parser reads back unchanged (newlines as \n in quotes). */
function envLine(key: string, value: string): string {
  return /[\s"'#\\]/.test(value) ? `${key}="${value.replace(/\n/g, "\\n")}"` : `${key}=${value}`;
}

/**
 * Merges settings into the settings file (created with its folder, readable by its owner only:
 * it holds the private key) and into `env`.
 */
export function saveSettings(file: string, values: Record<string, string>, env: NodeJS.ProcessEnv) {
  const existing = existsSync(file) ? parseEnv(readFileSync(file, "utf8")) : {};
  const merged: Record<string, string> = {};
  for (const [key, value] of Object.entries({ ...existing, ...values })) if (value !== undefined) merged[key] = value;
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(
    file,
    `${Object.entries(merged)
      .map(([key, value]) => envLine(key, value))
      .join("\n")}\n`,
    { mode: 0o600 },
  );
  chmodSync(file, 0o600);
  Object.assign(env, values);
  return merged;
}

/** The setup cookie carries the token from the first page to the next steps on this site only. */
export const SETUP_COOKIE = "runnerhub_setup";

const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  // The token is in the first page's URL: no other site learns it from a Referer.
  "referrer-policy": "no-referrer",
};

/** The answer that completes the setup closes its connection, so the port is free at once for the real start. */
const LAST_ANSWER = { connection: "close" };

/** The App's settings as the import form (or a JSON client) sends them. */
const importSchema = z.object({
  appId: z.coerce.number().int().positive(),
  pem: z.string().regex(/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a PEM private key"),
  webhook_secret: z.string().min(1),
});

/** What GitHub answers a manifest conversion with (the parts kept). */
const conversionSchema = z.object({
  id: z.number().int().positive(),
  pem: z.string().min(1),
  webhook_secret: z.string().min(1),
  client_id: z.string(),
  client_secret: z.string(),
  html_url: z.string().url(),
});

export interface SetupHandlerDeps {
  config: SetupConfig;
  /** The token every setup route asks for (RUNNERHUB_SETUP_TOKEN, or made at start). */
  token: string;
  /** app.yml: the App's name, events and permissions. */
  app: AppManifest;
  /** Keeps the App's settings; the caller starts for real once it was called. */
  save(values: Record<string, string>): void;
  log: Logger;
}

/** The address the browser reached us on (a proxy's forwarded one when there is one): the manifest points GitHub there. */
function baseUrlOf(req: IncomingMessage): string {
  const forwarded = req.headers["x-forwarded-host"];
  const host = (typeof forwarded === "string" ? forwarded.split(",")[0]?.trim() : undefined) ?? req.headers.host;
  return `${overHttps(req) ? "https" : "http"}://${host ?? "localhost"}`;
}

function parseImport(req: IncomingMessage, text: string): unknown {
  if ((req.headers["content-type"] ?? "").includes("application/json")) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  }
  return Object.fromEntries(new URLSearchParams(text));
}

function sendPage(
  res: ServerResponse,
  config: SetupConfig,
  status: number,
  body: Html,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, {
    ...PAGE_HEADERS,
    "content-security-policy": `default-src 'none'; form-action 'self' ${new URL(config.github.webUrl).origin}; frame-ancestors 'none'; base-uri 'none'`,
    ...headers,
  });
  res.end(body.text);
}

function sendText(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}) {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", ...headers });
  res.end(`${message}\n`);
}

/** The token the request presents: an explicit one wins over the cookie. */
function presented(req: IncomingMessage, query: URLSearchParams): { value: string | undefined; inUrl: boolean } {
  const inUrl = query.get("token") ?? query.get("state") ?? undefined;
  if (inUrl !== undefined) return { value: inUrl, inUrl: true };
  return {
    value: presentedToken(req.headers.authorization) ?? cookieValue(req.headers.cookie, SETUP_COOKIE),
    inUrl: false,
  };
}

async function importApp(
  { config, log, save }: SetupHandlerDeps,
  req: IncomingMessage,
  res: ServerResponse,
  cookie: Record<string, string>,
) {
  const body = await readBody(req, SETUP_BODY_MAX_BYTES);
  if (body === undefined) return sendText(res, 413, `request body exceeds ${SETUP_BODY_MAX_BYTES} bytes`);
  const parsed = importSchema.safeParse(parseImport(req, body));
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((issue) => String(issue.path[0] ?? "body")))];
    return sendPage(res, config, 400, renderImportPage(`Missing or invalid: ${fields.join(", ")}.`), cookie);
  }
  save({
    APP_ID: String(parsed.data.appId),
    PRIVATE_KEY: parsed.data.pem,
    WEBHOOK_SECRET: parsed.data.webhook_secret,
  });
  log.info({ appId: parsed.data.appId, settingsFile: config.settingsFile }, "setup: existing GitHub App saved");
  return sendPage(res, config, 200, renderDonePage(), { ...cookie, ...LAST_ANSWER });
}

/** GitHub sent the browser back with a code for the App it created: trade it for the App's settings. */
async function finishManifest({ config, log, save }: SetupHandlerDeps, res: ServerResponse, code: string | null) {
  if (!code || !/^[A-Za-z0-9_-]{1,200}$/.test(code)) {
    return sendText(res, 400, `code missing or invalid; start again at ${SETUP_HOME}`);
  }
  const url = `${config.github.baseUrl}/app-manifests/${code}/conversions`;
  let answer: Response;
  try {
    answer = await fetch(url, {
      method: "POST",
      headers: { accept: "application/vnd.github+json", "user-agent": "runnerhub-setup" },
      signal: AbortSignal.timeout(SETUP_GITHUB_TIMEOUT_MS),
    });
  } catch (error) {
    log.warn({ err: error, githubUrl: config.github.baseUrl }, "setup: GitHub did not answer the manifest conversion");
    return sendText(res, 502, `GitHub did not answer at ${config.github.baseUrl}; try again from ${SETUP_HOME}`);
  }
  const converted = conversionSchema.safeParse(answer.ok ? await answer.json() : undefined);
  if (!converted.success) {
    log.warn({ status: answer.status }, "setup: GitHub refused the manifest conversion");
    return sendText(
      res,
      502,
      `GitHub answered ${answer.status} to the manifest conversion (a code is good once, for an hour); start again at ${SETUP_HOME}`,
    );
  }
  const app = converted.data;
  save({
    APP_ID: String(app.id),
    PRIVATE_KEY: app.pem,
    WEBHOOK_SECRET: app.webhook_secret,
    GITHUB_CLIENT_ID: app.client_id,
    GITHUB_CLIENT_SECRET: app.client_secret,
  });
  log.info({ appId: app.id, settingsFile: config.settingsFile }, "setup: GitHub App created and saved");
  res
    .writeHead(302, { location: `${app.html_url}/installations/new`, "cache-control": "no-store", ...LAST_ANSWER })
    .end();
}

/** What anyone may ask for: /healthz, /readyz, / (sent on to the setup page); 404 for what is no setup route. */
function answerOpenRoute(req: IncomingMessage, res: ServerResponse, path: string, method: string): boolean {
  if (method === "GET" && path === "/healthz") return sendJson(res, 200, { status: "ok" });
  if (method === "GET" && path === "/readyz") {
    return sendJson(res, 503, {
      status: "not ready",
      reason: "setup: no GitHub App yet; open the setup URL printed at start (or set RUNNERHUB_SETUP_TOKEN)",
    });
  }
  if (method === "GET" && path === "/") {
    res.writeHead(302, { location: `${SETUP_HOME}${new URL(req.url ?? "/", "http://localhost").search}` }).end();
    return true;
  }
  const routes = [SETUP_HOME, SETUP_IMPORT, SETUP_RETURN];
  if (!routes.includes(path)) return sendJson(res, 404, { error: "not found", path });
  return false;
}

/**
 * Checks the setup token, answering 401 or 403 itself; on success, the headers that hand the
 * token to the browser's cookie when it came in the URL.
 */
function authorize(
  { log }: SetupHandlerDeps,
  digest: Buffer,
  req: IncomingMessage,
  res: ServerResponse,
  query: URLSearchParams,
): Record<string, string> | undefined {
  const token = presented(req, query);
  const auth = checkToken(token.value, digest);
  if (auth !== "ok") {
    log.warn(
      { method: req.method ?? "GET", path: pathOf(req), reason: auth, remoteAddress: req.socket.remoteAddress },
      "setup request refused",
    );
    if (auth === "missing") {
      sendText(
        res,
        401,
        "setup token required: open the URL runnerhub printed at start, or set RUNNERHUB_SETUP_TOKEN",
        {
          "www-authenticate": 'Bearer realm="runnerhub setup"',
        },
      );
    } else sendText(res, 403, "wrong setup token");
    return undefined;
  }
  // From the printed URL on, the browser carries the token itself (never readable by a script, never sent by another site).
  if (!token.inUrl) return {};
  const attributes = [`${SETUP_COOKIE}=${token.value}`, `Path=${SETUP_HOME}`, "HttpOnly", "SameSite=Strict"];
  return { "set-cookie": [...attributes, ...(overHttps(req) ? ["Secure"] : [])].join("; ") };
}

/**
 * The setup routes: the manifest page, GitHub's redirect back, the import of an existing App,
 * and /healthz and /readyz. Every setup route needs the setup token: as `?token=` (the URL
 * printed at start), as `?state=` (GitHub's redirect back), as a bearer token, or in the cookie
 * the first page sets. Without it they answer 401, with a wrong one 403, and write nothing.
 */
export function createSetupHandler(deps: SetupHandlerDeps) {
  const digest = tokenDigest(deps.token);
  const { config } = deps;

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = pathOf(req);
    const method = req.method ?? "GET";
    if (answerOpenRoute(req, res, path, method)) return;
    const query = new URL(req.url ?? "/", "http://localhost").searchParams;
    const cookie = authorize(deps, digest, req, res, query);
    if (cookie === undefined) return;

    if (method === "GET" && path === SETUP_HOME) {
      const manifest = manifestOf(deps.app, baseUrlOf(req), config.webhookProxyUrl);
      const createUrl = createAppUrl(config.github.webUrl, config.org, deps.token);
      return sendPage(res, config, 200, renderSetupPage({ manifest, createAppUrl: createUrl }), cookie);
    }
    if (method === "GET" && path === SETUP_IMPORT) return sendPage(res, config, 200, renderImportPage(), cookie);
    if (method === "POST" && path === SETUP_IMPORT) return importApp(deps, req, res, cookie);
    if (method === "GET" && path === SETUP_RETURN) return finishManifest(deps, res, query.get("code"));
    return sendText(res, 405, `${method} is not allowed on ${path}`);
  };
}

/** app.yml in the working directory: the App's name, events and permissions. */
function readAppManifest(cwd: string): AppManifest {
  const file = path.join(cwd, "app.yml");
  try {
    return z.record(z.string(), z.unknown()).parse(parseYaml(readFileSync(file, "utf8")));
  } catch (error) {
    throw new Error(`cannot read the App manifest ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Before the app is registered, a small server offers GitHub's manifest flow (from app.yml), so
 * the operator creates the GitHub App in two clicks, or takes an existing App's settings. Only
 * whoever holds the setup token may: it is printed at start as the URL to open. The settings are
 * kept in config.settingsFile (on a volume under Docker) and put into `env`; the promise resolves
 * once they are, with the server closed, so the caller can start for real without a restart.
 */
export async function serveSetupPage(config: SetupConfig, env: NodeJS.ProcessEnv, cwd = process.cwd()): Promise<void> {
  const log = createLogger(config.logLevel, undefined, config.logFormat).child({ component: "setup" });
  const token = config.setupToken ?? randomBytes(SETUP_TOKEN_BYTES).toString("base64url");
  let settled: () => void = () => undefined;
  const saved = new Promise<void>((resolve) => (settled = resolve));
  const handle = createSetupHandler({
    config,
    token,
    app: readAppManifest(cwd),
    save: (values) => {
      saveSettings(config.settingsFile, values, env);
      settled();
    },
    log,
  });
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log.error({ err: error, method: req.method, path: pathOf(req) }, "setup request failed");
      if (!res.headersSent) sendJson(res, 500, { error: "internal error" });
      else res.end();
    });
  });
  const port = await listen(server, config.http.host, config.http.port);
  const shown = ["0.0.0.0", "::", ""].includes(config.http.host) ? "localhost" : config.http.host;
  const setupUrl = `http://${shown.includes(":") ? `[${shown}]` : shown}:${port}${SETUP_HOME}?token=${config.setupToken === undefined ? token : "<RUNNERHUB_SETUP_TOKEN>"}`;
  log.info(
    { setupUrl, settingsFile: config.settingsFile },
    "setup: no GitHub App yet; open the setup URL (on this host's public address) to register it",
  );
  process.stderr.write(
    `\nrunnerhub is not set up yet. To register its GitHub App, open\n\n  ${setupUrl}\n\n` +
      `(from another machine: this host's public address instead of ${shown}). The settings go to ${config.settingsFile}.\n\n`,
  );
  await saved;
  // The answer that completed the setup goes out first, then the port is free for the real start.
  await new Promise<void>((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeIdleConnections();
  });
}
