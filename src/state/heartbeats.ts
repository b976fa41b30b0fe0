import type { Redis } from "ioredis";
import { RedisKeys } from "./keys.js";
import { defineScripts } from "./scripts/index.js";

export type BeatResult = { kind: "ok" | "new" } | { kind: "taken"; otherEngineId: string };

/** An engine whose heartbeat fell silent, with the heartbeat as read (for forget). */
export interface SilentEngine {
  engine: string;
  beat: string;
}

/**
 * Workers' heartbeats in Redis, one per Docker engine (name plus the engine's own ID), dated by
 * Redis' clock so hosts with skewed clocks judge each other fairly.
 */
export class Heartbeats {
  private readonly redis: Redis;
  private readonly keys: RedisKeys;

  constructor(redis: Redis, prefix: string) {
    this.redis = defineScripts(redis);
    this.keys = new RedisKeys(prefix);
  }

  async beat(engine: string, engineId: string, timeoutMs: number): Promise<BeatResult> {
    const [kind, other] = await this.redis.runnerhubEngineBeat(this.keys.heartbeats, engine, engineId, timeoutMs);
    return kind === "taken" ? { kind, otherEngineId: other } : { kind };
  }

  /** Engines silent past the timeout; engines named by records that never beat start their clock now. */
  async silent(timeoutMs: number, enginesInRecords: readonly string[]): Promise<SilentEngine[]> {
    const flat = await this.redis.runnerhubSilentEngines(this.keys.heartbeats, timeoutMs, ...enginesInRecords);
    const silent: SilentEngine[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) silent.push({ engine: flat[i] ?? "", beat: flat[i + 1] ?? "" });
    return silent;
  }

  /** How long ago each engine last beat (ms, on Redis' clock), for the dashboard. */
  async ages(): Promise<{ engine: string; ageMs: number }[]> {
    const [time, beats] = (await this.redis.multi().time().hgetall(this.keys.heartbeats).exec()) ?? [];
    const [seconds, micros] = (time?.[1] as [string, string] | undefined) ?? ["0", "0"];
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    return Object.entries((beats?.[1] as Record<string, string> | undefined) ?? {}).flatMap(([engine, text]) => {
      const at = (JSON.parse(text) as { at?: unknown }).at;
      return typeof at === "number" ? [{ engine, ageMs: Math.max(0, now - at) }] : [];
    });
  }

  /** Drops a lost engine's heartbeat, unless it beat again since it was read. */
  async forget(silent: SilentEngine): Promise<boolean> {
    return (await this.redis.runnerhubForgetEngine(this.keys.heartbeats, silent.engine, silent.beat)) === 1;
  }
}
