import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { RunnersApi } from "../github/runners-api.js";
import type { Capacity } from "../pools/capacity.js";
import { parseRunnerName } from "../pools/runner-names.js";
import type { SlotKeeper } from "../provisioning/slots.js";
import type { Heartbeats, SilentEngine } from "../state/heartbeats.js";
import { RedisKeys } from "../state/keys.js";
import { underLock } from "../state/lock.js";
import type { RunnerStore } from "../state/runner-store.js";
import { ENGINE_LOSS_LOCK_MS } from "../tunables.js";

export class EngineNameTakenError extends Error {
  constructor(engine: string, engineId: string, otherEngineId: string) {
    super(
      `another live worker beats for engine "${engine}" with Docker engine ID ${otherEngineId}, but this ` +
        `worker's engine has ID ${engineId}: two engines cannot share a name (they would share runner ` +
        `records and slots); set RUNNERHUB_ENGINE_NAME to a name of its own for this engine`,
    );
    this.name = "EngineNameTakenError";
  }
}

export interface HeartbeatOptions {
  heartbeats: Heartbeats;
  engine: string;
  /** The engine's own ID (`docker info`), which tells two engines given one name apart. */
  engineId: string;
  intervalMs: number;
  timeoutMs: number;
  log: Logger;
  /** Called when a beat finds no earlier one: Redis lost its data, or other workers gave this engine up. */
  onForgotten: () => Promise<void>;
}

/**
 * The first beat, before a worker does any work: refuses (EngineNameTakenError) to start a worker
 * whose engine name another live engine uses.
 */
export async function claimEngineName(options: Omit<HeartbeatOptions, "intervalMs" | "onForgotten">): Promise<void> {
  const { engine, engineId, timeoutMs } = options;
  const first = await options.heartbeats.beat(engine, engineId, timeoutMs);
  if (first.kind === "taken") throw new EngineNameTakenError(engine, engineId, first.otherEngineId);
}

/**
 * Beats for this worker's engine every intervalMs (after claimEngineName). The heartbeat stays
 * on stop: a worker restarted within the timeout finds its runners as it left them.
 */
export function startHeartbeat(options: HeartbeatOptions): { stop(): void } {
  const { heartbeats, engine, engineId, timeoutMs, log } = options;
  log.info({ engine, engineId, intervalMs: options.intervalMs, timeoutMs }, "heartbeat started");
  const timer = setInterval(() => {
    heartbeats
      .beat(engine, engineId, timeoutMs)
      .then(async (result) => {
        if (result.kind === "taken") {
          log.error({ engine, engineId, otherEngineId: result.otherEngineId }, "another engine beats under this name");
        } else if (result.kind === "new") {
          log.warn({ engine }, "this engine's heartbeat was gone (Redis lost its data, or it was given up for lost)");
          await options.onForgotten();
        }
      })
      .catch((error: unknown) => log.warn({ err: error, engine }, "heartbeat failed; retrying"));
  }, options.intervalMs);
  return { stop: () => clearInterval(timer) };
}

export interface EngineLossDeps {
  heartbeats: Heartbeats;
  runners: RunnerStore;
  capacity: Capacity;
  slots: SlotKeeper;
  github: RunnersApi;
  redis: Redis;
  prefix: string;
  /** This worker's engine, alive by definition. */
  engine: string;
  heartbeatTimeoutMs: number;
  log: Logger;
  now: () => number;
}

/**
 * Gives up engines whose heartbeat has been silent past the timeout (a host that vanished or was
 * renamed): their registrations are deleted at GitHub, their records forgotten and their slots
 * freed, which wakes demand parked on the pool; the reconcile pass that follows provisions the
 * waiting jobs those runners were counted for. A runner GitHub reports busy keeps its record and
 * slot (it may still run, on a host that only lost its worker) and is tried again next pass, until
 * GitHub lets its registration go. One process at a time handles each lost engine.
 */
export async function forgetLostEngines(deps: EngineLossDeps): Promise<string[]> {
  const records = await deps.runners.list();
  const named = [...new Set(records.map((record) => record.engine))];
  const silent = (await deps.heartbeats.silent(deps.heartbeatTimeoutMs, named)).filter((s) => s.engine !== deps.engine);
  const forgotten: string[] = [];
  for (const lost of silent) {
    const done = await underLock(
      deps.redis,
      new RedisKeys(deps.prefix).engineLossLock(lost.engine),
      ENGINE_LOSS_LOCK_MS,
      () => forgetEngine(deps, lost),
    );
    if (done) forgotten.push(lost.engine);
  }
  return forgotten;
}

async function forgetEngine(deps: EngineLossDeps, lost: SilentEngine): Promise<boolean> {
  const { log } = deps;
  const records = (await deps.runners.list()).filter((record) => record.engine === lost.engine);
  const kept = new Set<string>();
  for (const record of records) {
    if (record.runnerId !== undefined) {
      const deleted = await deps.github.deleteRunner(record, record.runnerId).catch((error: unknown) => {
        log.warn(
          { err: error, runnerName: record.name },
          "cannot delete a lost engine's registration; next pass retries",
        );
        return "failed" as const;
      });
      if (deleted === "busy" || deleted === "failed") {
        kept.add(record.name);
        continue;
      }
    }
    await deps.runners.retire(record.name, {
      exitedAt: deps.now(),
      exitCode: undefined,
      oomKilled: false,
      reason: "engine-lost",
    });
    await deps.slots.release(record.pool, lost.engine, record.name);
  }
  // Slots whose runner has no record left (a reservation in the making when the host went).
  for (const holder of await deps.capacity.allHolders("engine", lost.engine)) {
    if (kept.has(holder)) continue;
    const pool = parseRunnerName(holder)?.pool;
    if (pool) await deps.slots.release(pool, lost.engine, holder);
    else await deps.capacity.releaseFrom("engine", lost.engine, holder);
  }
  log.warn(
    { engine: lost.engine, forgotten: records.length - kept.size, keptBusy: kept.size },
    "engine's heartbeat silent past its timeout; its runners given up",
  );
  return kept.size === 0 && (await deps.heartbeats.forget(lost));
}
