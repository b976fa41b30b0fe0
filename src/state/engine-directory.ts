import type { EngineProfile, EngineState, Ineligible } from "../placement/placement.js";
import type { EngineBeat } from "./heartbeats.js";
import type { StoreContext } from "./store-context.js";

/** A pool whose demand no live engine may take, since when, and why each engine refuses it. */
export interface Unplaceable {
  since: number;
  refused: { engine: string; reason: Ineligible }[];
}

/** What an engine's runners hold: slots in use, and the memory and CPUs they reserve. */
export interface EngineUsage {
  held: number;
  reservedMemoryBytes: number;
  reservedCpus: number;
}

/**
 * What placement knows of the engines, shared through Redis: each worker's published profile
 * (labels, memory, CPUs, capacity), which engines are drained, which pools no engine may serve.
 */
export class EngineDirectory {
  constructor(private readonly store: StoreContext) {}

  async publish(engine: string, profile: EngineProfile): Promise<void> {
    await this.store.redis.hset(this.store.keys.engineProfiles, engine, JSON.stringify(profile));
  }

  /** Stops new runners on the engine; false when it was drained already. */
  async drain(engine: string, at: number): Promise<boolean> {
    return (await this.store.redis.hsetnx(this.store.keys.drainingEngines, engine, String(at))) === 1;
  }

  /** Lets the engine take runners again; false when it was not drained. */
  async undrain(engine: string): Promise<boolean> {
    return (await this.store.redis.hdel(this.store.keys.drainingEngines, engine)) === 1;
  }

  /** Every engine with a published profile, alive when its heartbeat is among the beats and not silent. */
  async states(beats: readonly EngineBeat[]): Promise<EngineState[]> {
    const [profiles, draining] = await Promise.all([
      this.store.redis.hgetall(this.store.keys.engineProfiles),
      this.store.redis.hgetall(this.store.keys.drainingEngines),
    ]);
    return Object.entries(profiles).map(([name, text]) => ({
      ...(JSON.parse(text) as EngineProfile),
      name,
      alive: beats.some((beat) => beat.engine === name && !beat.silent),
      draining: name in draining,
    }));
  }

  /** Engine name -> when it was drained (ms). */
  async drained(): Promise<Record<string, number>> {
    const draining = await this.store.redis.hgetall(this.store.keys.drainingEngines);
    return Object.fromEntries(Object.entries(draining).map(([engine, at]) => [engine, Number(at)]));
  }

  async profiles(): Promise<Record<string, EngineProfile>> {
    const profiles = await this.store.redis.hgetall(this.store.keys.engineProfiles);
    return Object.fromEntries(
      Object.entries(profiles).map(([engine, text]) => [engine, JSON.parse(text) as EngineProfile]),
    );
  }

  /** What the engine's live runners hold (admit-runner.lua counts the same way). */
  async usage(engine: string): Promise<EngineUsage> {
    const [time, live, reserved] = (await this.store.redis
      .multi()
      .time()
      .zrangebyscore(this.store.keys.slots("engine", engine), "-inf", "+inf", "WITHSCORES")
      .hgetall(this.store.keys.engineReserved(engine))
      .exec()) ?? [
      [null, ["0", "0"]],
      [null, []],
      [null, {}],
    ];
    const [seconds, micros] = time?.[1] as [string, string];
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const flat = (live?.[1] as string[] | undefined) ?? [];
    const entries = (reserved?.[1] as Record<string, string> | undefined) ?? {};
    const usage: EngineUsage = { held: 0, reservedMemoryBytes: 0, reservedCpus: 0 };
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const score = flat[i + 1] ?? "0";
      if (score !== "inf" && Number(score) < now) continue;
      usage.held += 1;
      const [memory, milliCpus] = (entries[flat[i] ?? ""] ?? "0 0").split(" ").map(Number);
      usage.reservedMemoryBytes += memory ?? 0;
      usage.reservedCpus += (milliCpus ?? 0) / 1000;
    }
    return usage;
  }

  /** Records that no live engine may take the pool's demand (keeps the first `since`). */
  async markUnplaceable(pool: string, refused: Unplaceable["refused"], now: number): Promise<void> {
    const previous = (await this.unplaceable())[pool];
    const entry: Unplaceable = { since: previous?.since ?? now, refused };
    await this.store.redis.hset(this.store.keys.unplaceablePools, pool, JSON.stringify(entry));
  }

  async clearUnplaceable(pool: string): Promise<void> {
    await this.store.redis.hdel(this.store.keys.unplaceablePools, pool);
  }

  async unplaceable(): Promise<Record<string, Unplaceable>> {
    const entries = await this.store.redis.hgetall(this.store.keys.unplaceablePools);
    return Object.fromEntries(Object.entries(entries).map(([pool, text]) => [pool, JSON.parse(text) as Unplaceable]));
  }
}
