import type { Pool } from "../config/pools.js";
import { oversizedRunners } from "../pools/sizes.js";
import type { EngineDirectory } from "../state/engine-directory.js";

export interface SizeCheckDeps {
  /** Every engine's published profile, this worker's own included (published before the check). */
  directory: Pick<EngineDirectory, "profiles">;
  pools: readonly Pool[];
}

/**
 * At a worker's start: refuses to start when a pool's runner (its own resources or one of its
 * sizes) fits on no engine known (this one, and those whose workers published theirs): such a
 * runner could never start anywhere. A runner that fits on another engine but not this one is
 * the admission's business, not an error.
 */
export async function checkRunnerSizes(deps: SizeCheckDeps): Promise<void> {
  const engines = Object.entries(await deps.directory.profiles()).map(([engine, profile]) => ({
    engine,
    memory: profile.memoryBytes,
    cpus: profile.cpus,
  }));
  const problems = oversizedRunners(deps.pools, engines);
  if (problems.length > 0) {
    throw new Error(`pools file: ${problems.map((problem) => problem.message).join("; ")}`);
  }
}
