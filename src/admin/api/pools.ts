import type { Logger } from "pino";
import type { Pool } from "../../config/pools.js";
import { swallowInto } from "../../observability/internal-errors.js";
import type { Metrics } from "../../observability/metrics.js";
import type { PoolCatalog } from "../../pools/catalog.js";
import { overrideProblems, poolOverrideSchema, type PoolOverrides } from "../../pools/overrides.js";
import type { Queues } from "../../queue/queues.js";
import type { Slots } from "../../slots/slots.js";
import type { CrashLoopStore } from "../../pools/crash-loop-store.js";
import { present, type OverviewReader } from "../overview.js";
import { fieldProblems, slotsToWake } from "../views.js";
import { errorReply, readJsonBody, type Reply, type RouteContext, type Routes } from "./reply.js";

export interface PoolApiDeps {
  pools: PoolCatalog;
  overrides: PoolOverrides;
  slots: Slots;
  provision: Queues["provision"];
  crashLoops: CrashLoopStore;
  overview: OverviewReader;
  metrics: Pick<Metrics, "internalErrors">;
  log: Logger;
  now: () => number;
}

const OVERRIDE_FIELDS = Object.keys(poolOverrideSchema.shape);

const noPool = (pools: readonly Pool[], name: string) =>
  errorReply(404, `no pool named "${name}"; pools: ${pools.map((p) => p.name).join(", ")}`);

/** A raised limit frees room that parked demand would otherwise only notice at its fallback delay. */
async function wakeParked(deps: PoolApiDeps, pool: Pool, maxRunners: number): Promise<number> {
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
async function wakeDeferred(deps: PoolApiDeps, pool: string): Promise<number> {
  let woken = 0;
  for (const entry of present(await deps.provision.getJobs(["delayed"]))) {
    if (entry.data.pool !== pool) continue;
    // An entry that woke or went since it was listed cannot be promoted; it runs anyway.
    const promoted = await entry
      .promote()
      .then(() => true)
      .catch(
        swallowInto(
          { log: deps.log, metrics: deps.metrics },
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

async function changeLimits(deps: PoolApiDeps, { req, params }: RouteContext): Promise<Reply> {
  const name = params.name ?? "";
  const pool = deps.pools.find(name);
  if (!pool) return noPool(deps.pools.declared(), name);
  const body = await readJsonBody(req);
  if (!body.ok) return body.reply;
  const parsed = poolOverrideSchema.safeParse(body.value);
  if (!parsed.success)
    return errorReply(400, "invalid pool change", fieldProblems(parsed.error.issues, "body", OVERRIDE_FIELDS));
  const current = (await deps.overrides.all())[pool.name] ?? {};
  const problems = overrideProblems(pool, { ...current, ...parsed.data });
  if (problems.length > 0) return errorReply(400, "invalid pool change", problems);
  const override = await deps.overrides.merge(pool.name, parsed.data);
  const woken = await wakeParked(deps, pool, override.maxRunners ?? pool.maxRunners);
  deps.log.info({ pool: pool.name, change: parsed.data, override, woken }, "pool limits changed");
  const [view] = await deps.overview.pools([pool]);
  return { status: 200, body: view };
}

async function resetCrashLoop(deps: PoolApiDeps, { params }: RouteContext): Promise<Reply> {
  const name = params.name ?? "";
  const pool = deps.pools.find(name);
  if (!pool) return noPool(deps.pools.declared(), name);
  const ended = await deps.crashLoops.clear(pool.name);
  const woken = ended ? await wakeDeferred(deps, pool.name) : 0;
  deps.log.info({ pool: pool.name, ended, woken }, "crash loop reset by an operator");
  const [view] = await deps.overview.pools([pool]);
  return { status: 200, body: view };
}

/** The pools with their run-time limits, and resetting a pool's crash loop. */
export function poolRoutes(
  deps: PoolApiDeps,
): Routes<
  "GET /admin/pools" | "GET /admin/pools/{name}" | "PATCH /admin/pools/{name}" | "DELETE /admin/pools/{name}/crash-loop"
> {
  return {
    "GET /admin/pools": async () => ({
      status: 200,
      body: { pools: await deps.overview.pools(deps.pools.declared()) },
    }),
    "GET /admin/pools/{name}": async ({ params }) => {
      const name = params.name ?? "";
      const pool = deps.pools.find(name);
      if (!pool) return noPool(deps.pools.declared(), name);
      const [view] = await deps.overview.pools([pool]);
      return { status: 200, body: view };
    },
    "PATCH /admin/pools/{name}": (ctx) => changeLimits(deps, ctx),
    "DELETE /admin/pools/{name}/crash-loop": (ctx) => resetCrashLoop(deps, ctx),
  };
}
