import { poolSchema, type Pool } from "../../../src/config/pools.js";

/** A valid pool with defaults applied, as the pools file would give it. */
export function pool(fields: Partial<Record<keyof Pool, unknown>> & { name: string; labels: string[] }): Pool {
  return poolSchema.parse({ image: "runner:test", maxRunners: 5, ...fields });
}
