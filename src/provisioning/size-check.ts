import type { Pool } from "../config/pools.js";
import type { ContainerEngine } from "../docker/engine.js";
import { oversizedRunners } from "../pools/sizes.js";
import type { EngineTotalsStore } from "../state/engine-totals.js";

export interface SizeCheckDeps {
  engine: Pick<ContainerEngine, "name" | "totals">;
  totals: Pick<EngineTotalsStore, "record" | "all">;
  pools: readonly Pool[];
}

/**
 * At a worker's start: records its engine's totals, then refuses to start when a pool's runner
 * (its own resources or one of its sizes) fits on no engine known (this one, and those whose
 * workers recorded theirs): such a runner could never start anywhere. A runner that fits on
 * another engine but not this one is the admission's business, not an error.
 */
export async function checkRunnerSizes(deps: SizeCheckDeps): Promise<void> {
  const own = await deps.engine.totals();
  await deps.totals.record({ engine: deps.engine.name, ...own });
  const others = (await deps.totals.all()).filter((entry) => entry.engine !== deps.engine.name);
  const problems = oversizedRunners(deps.pools, [{ engine: deps.engine.name, ...own }, ...others]);
  if (problems.length > 0) {
    throw new Error(`pools file: ${problems.map((problem) => problem.message).join("; ")}`);
  }
}
