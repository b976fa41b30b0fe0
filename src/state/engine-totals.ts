import type { StoreContext } from "./store-context.js";

/** An engine's host memory (bytes) and CPUs as its worker read them from docker info. */
export interface RecordedEngineTotals {
  engine: string;
  memory: number;
  cpus: number;
}

/** Each engine's host totals, written by its worker at start, so every worker can weigh the pools' sizes against all engines. */
export class EngineTotalsStore {
  constructor(private readonly store: StoreContext) {}

  async record(totals: RecordedEngineTotals): Promise<void> {
    const { memory, cpus } = totals;
    await this.store.redis.hset(this.store.keys.engineTotals, totals.engine, JSON.stringify({ memory, cpus }));
  }

  async all(): Promise<RecordedEngineTotals[]> {
    const entries = Object.entries(await this.store.redis.hgetall(this.store.keys.engineTotals));
    return entries.map(([engine, text]) => ({ engine, ...(JSON.parse(text) as { memory: number; cpus: number }) }));
  }
}
