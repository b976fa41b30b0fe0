import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { checkToken, presentedToken, tokenDigest } from "./auth.js";
import { pathOf, sendJson, type Handler } from "./server.js";
import { HEALTH_CHECK_TIMEOUT_MS } from "../tunables.js";

export type Check = () => Promise<unknown>;

/** A check's own verdict, meant for whoever reads /readyz: its message is shown there. */
export class NotReadyError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "NotReadyError";
  }
}

/**
 * "ok", "timeout" or "error": /readyz is often reachable by more than operators, so the
 * dependency's own error text (addresses, paths) goes to the log only; a NotReadyError's reason,
 * written for /readyz, is shown ("error: <reason>").
 */
async function run(name: string, check: Check, log: Logger): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), HEALTH_CHECK_TIMEOUT_MS);
  });
  try {
    const outcome = await Promise.race([check().then(() => "ok" as const), timeout]);
    if (outcome === "timeout")
      log.warn({ check: name, timeoutMs: HEALTH_CHECK_TIMEOUT_MS }, "readiness check timed out");
    return outcome;
  } catch (error) {
    log.warn({ check: name, err: error }, "readiness check failed");
    return error instanceof NotReadyError ? `error: ${error.message}` : "error";
  } finally {
    clearTimeout(timer);
  }
}

/** /healthz: the process answers. /readyz: every dependency answers (Redis, Docker). */
export function healthHandler(checks: Record<string, Check>, log: Logger): Handler {
  return async (req, res) => {
    if (req.method !== "GET") return false;
    const path = pathOf(req);
    if (path === "/healthz") return sendJson(res, 200, { status: "ok" });
    if (path !== "/readyz") return false;
    const names = Object.keys(checks);
    const results = await Promise.all(names.map((name) => run(name, checks[name] as Check, log)));
    const report = Object.fromEntries(names.map((name, i) => [name, results[i]]));
    const ready = results.every((result) => result === "ok");
    return sendJson(res, ready ? 200 : 503, { status: ready ? "ready" : "not ready", checks: report });
  };
}

/** /metrics, behind `Authorization: Bearer <token>` when a token is given (METRICS_TOKEN). */
export function metricsHandler(registry: Registry, token: string | undefined): Handler {
  const expected = token === undefined ? undefined : tokenDigest(token);
  return async (req, res) => {
    if (req.method !== "GET" || pathOf(req) !== "/metrics") return false;
    if (expected !== undefined) {
      const auth = checkToken(presentedToken(req.headers.authorization), expected);
      if (auth !== "ok") {
        res.setHeader("www-authenticate", 'Bearer realm="metrics"');
        return sendJson(res, 401, {
          error:
            auth === "missing"
              ? "metrics token required: send Authorization: Bearer <METRICS_TOKEN>"
              : "wrong metrics token",
        });
      }
    }
    res.writeHead(200, { "content-type": registry.contentType }).end(await registry.metrics());
    return true;
  };
}
