import { z } from "zod";
import type { Pool } from "../config/pools.js";
import { parseDuration } from "../config/units.js";
import type { StoreContext } from "../state/store-context.js";

const durationText = z
  .string()
  .refine((text) => (parseDuration(text) ?? 0) > 0, "not a duration; use e.g. 90s, 10m or 6h");

/** Fields an operator may change at run time (PATCH /admin/pools/{name}); all optional. */
export const poolOverrideSchema = z.strictObject({
  maxRunners: z.int().min(0).max(10_000).optional(),
  minIdle: z.int().min(0).max(10_000).optional(),
  idleTimeout: durationText.optional(),
  maxLifetime: durationText.optional(),
});

export type PoolOverride = z.output<typeof poolOverrideSchema>;

/** A pool as the file declares it, with the run-time overrides applied. */
export function effectivePool(pool: Pool, override: PoolOverride | undefined): Pool {
  if (!override) return pool;
  return {
    ...pool,
    maxRunners: override.maxRunners ?? pool.maxRunners,
    minIdle: override.minIdle ?? pool.minIdle,
    idleTimeout: override.idleTimeout ? (parseDuration(override.idleTimeout) ?? pool.idleTimeout) : pool.idleTimeout,
    maxLifetime: override.maxLifetime ? (parseDuration(override.maxLifetime) ?? pool.maxLifetime) : pool.maxLifetime,
  };
}

/** Problems of an override against the pool it changes, as field-level messages. */
export function overrideProblems(pool: Pool, override: PoolOverride): { field: string; message: string }[] {
  const next = effectivePool(pool, override);
  const problems: { field: string; message: string }[] = [];
  if (next.minIdle > next.maxRunners) {
    problems.push({ field: "minIdle", message: `must not exceed maxRunners (${next.maxRunners})` });
  }
  if (next.minIdle > 0 && !pool.warmScope) {
    problems.push({
      field: "minIdle",
      message: `pool "${pool.name}" has no warmScope in the pools file, so it cannot keep warm runners`,
    });
  }
  return problems;
}

/**
 * Run-time pool settings, persisted in Redis so every process sees a change at once. The
 * capacity script reads maxRunners from the same hash, so a new limit binds the next reservation.
 */
export class PoolOverrides {
  private readonly key: string;

  constructor(private readonly store: StoreContext) {
    this.key = store.keys.poolOverrides;
  }

  async all(): Promise<Record<string, PoolOverride>> {
    const raw = await this.store.redis.hgetall(this.key);
    return Object.fromEntries(Object.entries(raw).map(([name, text]) => [name, JSON.parse(text) as PoolOverride]));
  }

  /** Merges a change into the pool's override and returns the result. */
  async merge(pool: string, change: PoolOverride): Promise<PoolOverride> {
    const current = (await this.all())[pool] ?? {};
    const next = { ...current, ...change };
    await this.store.redis.hset(this.key, pool, JSON.stringify(next));
    return next;
  }

  async clear(pool: string): Promise<void> {
    await this.store.redis.hdel(this.key, pool);
  }

  /** The configured pools with their overrides applied. */
  async effective(pools: readonly Pool[]): Promise<Pool[]> {
    const overrides = await this.all();
    return pools.map((pool) => effectivePool(pool, overrides[pool.name]));
  }
}
