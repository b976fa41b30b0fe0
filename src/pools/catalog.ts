import type { Pool } from "../config/pools.js";
import type { PoolOverrides } from "./overrides.js";

/** The pools: the one way every part of runnerhub reads them. */
export interface PoolCatalog {
  /** As the pools file declares them. */
  declared(): readonly Pool[];
  /** The declared pool of this name. */
  find(name: string): Pool | undefined;
  /** As they apply now: the declared pools with the run-time overrides (PATCH /admin/pools) from Redis. */
  effective(): Promise<Pool[]>;
}

/** `declared` is read at each use, so a caller may hand in pools that change (tests do). */
export function poolCatalog(declared: () => readonly Pool[], overrides: Pick<PoolOverrides, "effective">): PoolCatalog {
  return {
    declared,
    find: (name) => declared().find((pool) => pool.name === name),
    effective: () => overrides.effective(declared()),
  };
}
