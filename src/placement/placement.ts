/** What a worker publishes about its engine for placement (RUNNERHUB_ENGINE_* and `docker info`). */
export interface EngineProfile {
  labels: string[];
  /** Memory (bytes) and CPUs runners may reserve on the engine. */
  memoryBytes: number;
  cpus: number;
  /** Most runner containers at once (RUNNERHUB_ENGINE_CAPACITY); undefined for no limit. */
  capacity: number | undefined;
}

/** One engine as placement sees it: its profile, whether its worker lives, whether it is drained. */
export interface EngineState extends EngineProfile {
  name: string;
  alive: boolean;
  draining: boolean;
}

/** What one runner reserves on its engine. */
export interface RunnerResources {
  memoryBytes: number;
  /** Undefined: the runner reserves no CPUs (its pool sets no CPU limit). */
  cpus: number | undefined;
}

/** Why an engine may not take a pool's runners at all (room aside). */
export type Ineligible = "silent" | "draining" | "labels" | "too-small";

/** A pool's placement settings (pools file `engines` and `placement`). */
export interface PlacementRule {
  engines: { labels: readonly string[] };
  placement: "spread" | "pack";
}

/** The resources one runner of the pool reserves (a sized job's pool is sizedPool's, carrying its size's resources). */
export function runnerResourcesOf(pool: { resources: { memory: number; cpus?: number | undefined } }): RunnerResources {
  return { memoryBytes: pool.resources.memory, cpus: pool.resources.cpus };
}

/** Why the engine may never take this runner as things stand, or undefined when it may. */
export function ineligibility(engine: EngineState, rule: PlacementRule, need: RunnerResources): Ineligible | undefined {
  if (!engine.alive) return "silent";
  if (engine.draining) return "draining";
  if (!rule.engines.labels.every((label) => engine.labels.includes(label))) return "labels";
  if (need.memoryBytes > engine.memoryBytes || (need.cpus ?? 0) > engine.cpus) return "too-small";
  return undefined;
}

/**
 * Where the pool's runners may go: the eligible engines (by name, the order pack's ties follow)
 * and, for each engine that is not, why. With no engine eligible the demand cannot start anywhere
 * until an engine comes, is undrained or gets the labels.
 */
export function placementCandidates(
  engines: readonly EngineState[],
  rule: PlacementRule,
  need: RunnerResources,
): { eligible: EngineState[]; refused: { engine: string; reason: Ineligible }[] } {
  const eligible: EngineState[] = [];
  const refused: { engine: string; reason: Ineligible }[] = [];
  for (const engine of [...engines].sort((a, b) => a.name.localeCompare(b.name))) {
    const reason = ineligibility(engine, rule, need);
    if (reason === undefined) eligible.push(engine);
    else refused.push({ engine: engine.name, reason });
  }
  return { eligible, refused };
}
