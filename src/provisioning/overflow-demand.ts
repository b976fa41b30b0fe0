import type { Logger } from "pino";
import type { Metrics } from "../observability/metrics.js";
import type { PoolCatalog } from "../pools/catalog.js";
import { overflowTarget } from "../pools/overflow.js";
import type { ProvisionRequest } from "../queue/jobs.js";
import type { EngineSlots } from "../slots/slots.js";
import type { DemandLedger } from "../state/demand-ledger.js";
import type { EventFeed } from "../state/event-feed.js";

export interface OverflowDemandDeps {
  pools: PoolCatalog;
  ledger: Pick<DemandLedger, "overflow">;
  slots: Pick<EngineSlots, "hasRoom">;
  feed: EventFeed;
  metrics: Metrics;
  log: Logger;
}

/**
 * Moves a job its pool cannot start now (`reason`: which ceiling refused it) to the pool's
 * overflow pool, and returns the demand as it stands there; undefined when it stays. It moves only
 * into room: in a full pool it would wait no sooner than in its own. The job keeps its GitHub id,
 * its queue entry and its one ledger entry (moved, not copied), so it still gets one runner, and
 * that runner counts against the other pool's maxRunners.
 */
export async function overflowDemand(
  request: ProvisionRequest,
  reason: "pool-full" | "engine-full",
  deps: OverflowDemandDeps,
): Promise<ProvisionRequest | undefined> {
  const pool = deps.pools.find(request.pool);
  if (!pool) return undefined;
  const decision = overflowTarget(pool, request, deps.pools.declared());
  if (decision.kind === "stay") return undefined;
  const to = decision.to;
  const log = { pool: pool.name, overflowTo: to.name, jobId: request.githubJobId, reason };
  if (!(await deps.slots.hasRoom(to))) {
    deps.log.info(log, "pool cannot start the job and its overflow pool is full too; the job waits in its pool");
    return undefined;
  }
  const moved: ProvisionRequest = { ...request, pool: to.name, overflowedFrom: pool.name };
  if (!(await deps.ledger.overflow(request, moved))) return undefined;
  deps.metrics.overflows.inc({ from: pool.name, to: to.name });
  await deps.feed.record({
    kind: "overflowed",
    pool: to.name,
    jobId: request.githubJobId,
    repository: `${request.owner}/${request.repo}`,
    reason: `from ${pool.name} (${reason})`,
  });
  deps.log.info(log, "pool cannot start the job now; it overflows to the other pool");
  return moved;
}
