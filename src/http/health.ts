import type { Registry } from "prom-client";
import { pathOf, sendJson, type Handler } from "./server.js";
import { HEALTH_CHECK_TIMEOUT_MS } from "../tunables.js";

export type Check = () => Promise<unknown>;

async function run(check: Check): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${HEALTH_CHECK_TIMEOUT_MS} ms`)),
      HEALTH_CHECK_TIMEOUT_MS,
    );
  });
  try {
    await Promise.race([check(), timeout]);
    return "ok";
  } catch (error) {
    return (error as Error).message;
  } finally {
    clearTimeout(timer);
  }
}

/** /healthz: the process answers. /readyz: every dependency answers (Redis, Docker). */
export function healthHandler(checks: Record<string, Check>): Handler {
  return async (req, res) => {
    if (req.method !== "GET") return false;
    const path = pathOf(req);
    if (path === "/healthz") return sendJson(res, 200, { status: "ok" });
    if (path !== "/readyz") return false;
    const names = Object.keys(checks);
    const results = await Promise.all(names.map((name) => run(checks[name] as Check)));
    const report = Object.fromEntries(names.map((name, i) => [name, results[i]]));
    const ready = results.every((result) => result === "ok");
    return sendJson(res, ready ? 200 : 503, { status: ready ? "ready" : "not ready", checks: report });
  };
}

export function metricsHandler(registry: Registry): Handler {
  return async (req, res) => {
    if (req.method !== "GET" || pathOf(req) !== "/metrics") return false;
    res.writeHead(200, { "content-type": registry.contentType }).end(await registry.metrics());
    return true;
  };
}
