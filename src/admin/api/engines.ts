import type { Logger } from "pino";
import type { EngineDirectory } from "../../state/engine-directory.js";
import type { OverviewReader } from "../overview.js";
import { errorReply, type Reply, type RouteContext, type Routes } from "./reply.js";

export interface EngineApiDeps {
  engines: Pick<EngineDirectory, "drain" | "undrain" | "profiles">;
  overview: Pick<OverviewReader, "engines">;
  log: Logger;
  now: () => number;
}

/** The engine as GET /admin/engines shows it, or 404 for an engine no worker ever published. */
async function changeDrain(deps: EngineApiDeps, { params }: RouteContext, drain: boolean): Promise<Reply> {
  const name = params.name ?? "";
  const known = Object.keys(await deps.engines.profiles());
  if (!known.includes(name)) {
    return errorReply(404, `no engine named "${name}"; engines: ${known.sort().join(", ") || "none yet"}`);
  }
  const changed = drain ? await deps.engines.drain(name, deps.now()) : await deps.engines.undrain(name);
  deps.log.info({ engine: name, draining: drain, changed }, drain ? "engine drained" : "engine undrained");
  const view = (await deps.overview.engines()).find((engine) => engine.name === name);
  return { status: 200, body: view };
}

/** The engines with their labels, resources and drain state; draining and undraining one. */
export function engineRoutes(
  deps: EngineApiDeps,
): Routes<"GET /admin/engines" | "POST /admin/engines/{name}/drain" | "DELETE /admin/engines/{name}/drain"> {
  return {
    "GET /admin/engines": async () => ({ status: 200, body: { engines: await deps.overview.engines() } }),
    "POST /admin/engines/{name}/drain": (ctx) => changeDrain(deps, ctx, true),
    "DELETE /admin/engines/{name}/drain": (ctx) => changeDrain(deps, ctx, false),
  };
}
