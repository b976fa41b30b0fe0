import type { StoreContext } from "./store-context.js";

export type BeatResult = { kind: "ok" | "new" } | { kind: "taken"; otherEngineId: string };

/** An engine's heartbeat as read: its raw text (for forget), the engine's ID, and whether it is silent. */
export interface EngineBeat {
  engine: string;
  beat: string;
  /** The Docker engine ID that beat last; "" for an engine known only from runner records. */
  engineId: string;
  /** Its worker has not beaten, or its engine has not answered, within the timeout. */
  silent: boolean;
}

/**
 * Workers' heartbeats in Redis, one per Docker engine (name plus the engine's own ID), dated by
 * Redis' clock so hosts with skewed clocks judge each other fairly.
 */
export class Heartbeats {
  constructor(private readonly store: StoreContext) {}

  /** answered: whether the engine answered just now (a worker whose engine is down still beats). */
  async beat(engine: string, engineId: string, timeoutMs: number, answered = true): Promise<BeatResult> {
    const [kind, other] = await this.store.redis.runnerhubEngineBeat(
      this.store.keys.heartbeats,
      engine,
      engineId,
      timeoutMs,
      answered ? "1" : "0",
    );
    return kind === "taken" ? { kind, otherEngineId: other } : { kind };
  }

  /** Every engine's heartbeat; engines named by records that never beat start their clock now. */
  async read(timeoutMs: number, enginesInRecords: readonly string[]): Promise<EngineBeat[]> {
    const flat = await this.store.redis.runnerhubReadHeartbeats(
      this.store.keys.heartbeats,
      timeoutMs,
      ...enginesInRecords,
    );
    const beats: EngineBeat[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      const beat = flat[i + 1] ?? "";
      const { engineId } = JSON.parse(beat) as { engineId?: unknown };
      beats.push({
        engine: flat[i] ?? "",
        beat,
        engineId: typeof engineId === "string" ? engineId : "",
        silent: flat[i + 2] === "1",
      });
    }
    return beats;
  }

  /** How long ago each engine last beat with its engine answering (ms, on Redis' clock), for the dashboard. */
  async ages(): Promise<{ engine: string; ageMs: number }[]> {
    const [time, beats] = (await this.store.redis.multi().time().hgetall(this.store.keys.heartbeats).exec()) ?? [];
    const [seconds, micros] = (time?.[1] as [string, string] | undefined) ?? ["0", "0"];
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    return Object.entries((beats?.[1] as Record<string, string> | undefined) ?? {}).flatMap(([engine, text]) => {
      const { at, answeredAt } = JSON.parse(text) as { at?: unknown; answeredAt?: unknown };
      if (typeof at !== "number") return [];
      const last = typeof answeredAt === "number" ? Math.min(at, answeredAt) : at;
      return [{ engine, ageMs: Math.max(0, now - last) }];
    });
  }

  /** Drops a lost engine's heartbeat, unless it beat again since it was read. */
  async forget(silent: EngineBeat): Promise<boolean> {
    return (await this.store.redis.runnerhubForgetEngine(this.store.keys.heartbeats, silent.engine, silent.beat)) === 1;
  }
}
