import type { Pool } from "../config/pools.js";
import type { EngineProfile } from "../placement/placement.js";
import type { EngineUsage, Unplaceable } from "../state/engine-directory.js";
import type { EngineView, PoolView } from "./schemas.js";
import type { EngineHealthView } from "./views.js";

/** What placement knows of the engines, read at one moment. */
export interface EnginePlacementSnapshot {
  profiles: Record<string, EngineProfile>;
  drained: Record<string, number>;
  usage: Record<string, EngineUsage>;
}

/** The engine views with their labels, drain state, and reserved and free memory and CPUs. */
export function withPlacement(views: readonly EngineHealthView[], snapshot: EnginePlacementSnapshot): EngineView[] {
  return views.map((view) => {
    const profile = snapshot.profiles[view.name];
    const usage = snapshot.usage[view.name] ?? { held: 0, reservedMemoryBytes: 0, reservedCpus: 0 };
    const resource = (total: number, reserved: number) => ({ total, reserved, free: total - reserved });
    return {
      ...view,
      capacity: view.capacity ?? (profile ? (profile.capacity ?? "unlimited") : null),
      labels: profile?.labels ?? [],
      draining: view.name in snapshot.drained,
      memory: profile ? resource(profile.memoryBytes, usage.reservedMemoryBytes) : null,
      cpus: profile ? resource(profile.cpus, usage.reservedCpus) : null,
    };
  });
}

/** The pool's placement rule, and the engines refusing its demand while it waits with none to take it. */
export function poolPlacementView(
  pool: Pool,
  unplaceable: Unplaceable | undefined,
  waiting: number,
): PoolView["placement"] {
  return {
    rule: pool.placement,
    engineLabels: pool.engines.labels,
    // A marker outlives the demand it was written for (a cancelled job); only waiting demand shows it.
    noEngine: unplaceable && waiting > 0 ? unplaceable : null,
  };
}
