import type { Logger } from "pino";
import type { GitHubRunner, RunnersApi } from "../github/runners-api.js";
import { targetKey, type RunnerTarget } from "../scope/runner-scope.js";
import { reportSwallowed, swallowInto } from "../observability/internal-errors.js";
import type { Metrics } from "../observability/metrics.js";
import { parseRunnerName } from "../pools/runner-names.js";
import type { Slots } from "../slots/slots.js";
import type { EngineBeat, Heartbeats } from "../state/heartbeats.js";
import type { StoreContext } from "../state/store-context.js";
import { underLock, type Lease } from "../state/lock.js";
import type { RunnerRecord, RunnerStore } from "../state/runner-store.js";
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
  metrics: Pick<Metrics, "internalErrors">;
  /** Whether the engine answers now (a ping within the Docker deadline). */
  answers: () => Promise<boolean>;
  /** Called when a beat finds no earlier one, or the engine answers after a silence past the timeout. */
  onForgotten: () => Promise<void>;
  /** The engine stopped answering (false) or answers again (true): pause, or repair then resume. */
  onAnswering: (answering: boolean) => Promise<void>;
  /** Another engine beats under this name: this worker's records are no longer its own. */
  onTaken: (error: EngineNameTakenError) => void;
}

/**
 * The first beat, before a worker does any work: refuses (EngineNameTakenError) to start a worker
 * whose engine name another live engine uses.
 */
export async function claimEngineName(
  options: Pick<HeartbeatOptions, "heartbeats" | "engine" | "engineId" | "timeoutMs">,
): Promise<void> {
  const { engine, engineId, timeoutMs } = options;
  const first = await options.heartbeats.beat(engine, engineId, timeoutMs);
  if (first.kind === "taken") throw new EngineNameTakenError(engine, engineId, first.otherEngineId);
}

/**
 * Beats for this worker's engine every intervalMs (after claimEngineName), each beat saying
 * whether the engine answered its last ping: a worker whose engine went away keeps beating, and
 * the beat lets other workers give that engine up all the same. Pings run beside the beats (one
 * at a time, each bounded by the Docker deadline), and the repairs a beat calls for run beside
 * them too: a beat is never late because Docker or a reconcile pass is slow, so a live worker
 * never looks silent. The heartbeat stays on stop: a worker restarted within the timeout finds its
 * runners as it left them. A "taken" beat ends the beating for good.
 */
export function startHeartbeat(options: HeartbeatOptions): { stop(): void } {
  const { heartbeats, engine, engineId, timeoutMs, log } = options;
  log.info({ engine, engineId, intervalMs: options.intervalMs, timeoutMs }, "heartbeat started");
  const reporting = { log, metrics: options.metrics };
  let answering = true;
  let pinging = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  async function ping(): Promise<void> {
    if (pinging) return;
    pinging = true;
    try {
      const answered = await options.answers();
      if (answered === answering || stopped) return;
      answering = answered;
      if (answered) log.warn({ engine }, "engine answers again");
      else log.error({ engine }, "engine does not answer; this worker stops provisioning until it does");
      await options.onAnswering(answered);
    } finally {
      pinging = false;
    }
  }

  async function tick(): Promise<void> {
    void ping().catch(swallowInto(reporting, { where: "engine-loss.ping", message: "engine ping failed" }));
    const result = await heartbeats.beat(engine, engineId, timeoutMs, answering);
    if (result.kind === "taken") {
      stopped = true;
      log.error({ engine, engineId, otherEngineId: result.otherEngineId }, "another engine beats under this name");
      options.onTaken(new EngineNameTakenError(engine, engineId, result.otherEngineId));
    } else if (result.kind === "new") {
      log.warn(
        { engine },
        "this engine's heartbeat was gone or stale (Redis lost its data, or it was given up for lost)",
      );
      void options
        .onForgotten()
        .catch(
          swallowInto(reporting, { where: "engine-loss.repair", message: "repair after a lost heartbeat failed" }),
        );
    }
  }

  function schedule(): void {
    timer = setTimeout(() => {
      tick()
        .catch(
          swallowInto(reporting, {
            where: "engine-loss.heartbeat",
            message: "heartbeat failed; retrying",
            fields: { engine },
          }),
        )
        .finally(() => {
          if (!stopped) schedule();
        });
    }, options.intervalMs);
  }
  schedule();
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** What one engine-loss pass gives up, decided from the heartbeats and the records alone. */
export type EngineLossPlan =
  /** Every engine, this process's included, looks silent: the clock or Redis is wrong, not the hosts. */
  | { kind: "all-silent"; engines: string[] }
  | {
      kind: "give-up";
      /** Engines silent past the timeout, with their runners. */
      lost: { beat: EngineBeat; records: RunnerRecord[] }[];
      /** Runners recorded under a name another engine (by ID) now beats for: that engine replaced theirs. */
      superseded: { engine: string; records: RunnerRecord[] }[];
    };

export function planEngineLoss(
  beats: readonly EngineBeat[],
  records: readonly RunnerRecord[],
  self: { engine: string },
): EngineLossPlan {
  if (beats.length > 0 && beats.every((beat) => beat.silent)) {
    return { kind: "all-silent", engines: beats.map((beat) => beat.engine) };
  }
  const of = (engine: string) => records.filter((record) => record.engine === engine);
  const lost = beats
    .filter((beat) => beat.silent && beat.engine !== self.engine)
    .map((beat) => ({ beat, records: of(beat.engine) }));
  const superseded = beats
    .filter((beat) => !beat.silent && beat.engineId !== "")
    .map((beat) => ({
      engine: beat.engine,
      records: of(beat.engine).filter((record) => record.engineId !== undefined && record.engineId !== beat.engineId),
    }))
    .filter((entry) => entry.records.length > 0);
  return { kind: "give-up", lost, superseded };
}

export interface EngineLossDeps {
  heartbeats: Heartbeats;
  runners: RunnerStore;
  slots: Slots;
  github: Pick<RunnersApi, "listRunners" | "deleteRunner">;
  store: StoreContext;
  /** This worker's engine. */
  engine: string;
  heartbeatTimeoutMs: number;
  log: Logger;
  metrics: Pick<Metrics, "internalErrors">;
  now: () => number;
}

/**
 * Gives up engines that are lost (their worker silent, or their engine not answering, past the
 * timeout: a host that vanished, lost power or was renamed) and runners whose engine name another
 * engine took over: their registrations are deleted at GitHub, their records forgotten and their
 * slots freed, which wakes demand parked on the pool; the reconcile pass that follows provisions
 * the waiting jobs those runners were counted for. A runner GitHub reports busy keeps its record
 * and slot (it may still run, on a host that only lost its worker) and is tried again next pass,
 * until GitHub lets its registration go. One process at a time handles each engine.
 */
export async function forgetLostEngines(deps: EngineLossDeps): Promise<string[]> {
  const records = await deps.runners.list();
  const beats = await deps.heartbeats.read(deps.heartbeatTimeoutMs, [
    ...new Set(records.map((record) => record.engine)),
  ]);
  const plan = planEngineLoss(beats, records, { engine: deps.engine });
  if (plan.kind === "all-silent") {
    deps.log.error(
      { engines: plan.engines },
      "every engine's heartbeat looks silent, this one's included: Redis or the clock is wrong, not the hosts; nothing given up",
    );
    return [];
  }
  const lockOf = (engine: string) => deps.store.keys.engineLossLock(engine);
  const forgotten: string[] = [];
  for (const lost of plan.lost) {
    const done = await underLock(deps.store.redis, lockOf(lost.beat.engine), ENGINE_LOSS_LOCK_MS, (lease) =>
      forgetEngine(deps, lost.beat, lease),
    );
    if (done) forgotten.push(lost.beat.engine);
  }
  for (const { engine, records: superseded } of plan.superseded) {
    await underLock(deps.store.redis, lockOf(engine), ENGINE_LOSS_LOCK_MS, async (lease) => {
      const kept = await giveUp(
        deps,
        superseded.map((record) => record.name),
        lease,
      );
      deps.log.warn(
        { engine, forgotten: superseded.length - kept.size, keptBusy: kept.size },
        "runners of an engine replaced under this name given up",
      );
    });
  }
  return forgotten;
}

async function forgetEngine(deps: EngineLossDeps, lost: EngineBeat, lease: Lease): Promise<boolean> {
  const names = (await deps.runners.list()).filter((record) => record.engine === lost.engine).map((r) => r.name);
  const kept = await giveUp(deps, names, lease);
  // Slots whose runner has no record left (a reservation in the making when the host went).
  for (const holder of await deps.slots.allHolders("engine", lost.engine)) {
    if (kept.has(holder)) continue;
    lease.assertHeld();
    const pool = parseRunnerName(holder)?.pool;
    if (pool) await deps.slots.release(pool, holder, lost.engine);
    else await deps.slots.releaseFrom("engine", lost.engine, holder);
  }
  deps.log.warn(
    { engine: lost.engine, forgotten: names.length - kept.size, keptBusy: kept.size },
    "engine silent past its timeout; its runners given up",
  );
  return kept.size === 0 && (await deps.heartbeats.forget(lost));
}

/**
 * Gives up runners (records read again, under the lock): each one's registration is deleted,
 * then its record and slot go. The names kept are those GitHub reports busy, or whose
 * registration could not be checked. A token-registered runner whose record never learnt its
 * GitHub id is looked up by name first, so a busy one keeps its slot too.
 */
async function giveUp(deps: EngineLossDeps, names: readonly string[], lease: Lease): Promise<Set<string>> {
  const kept = new Set<string>();
  const listed = new Map<string, Promise<GitHubRunner[]>>();
  const listOnce = (target: RunnerTarget) => {
    const key = targetKey(target);
    const list = listed.get(key) ?? deps.github.listRunners(target);
    listed.set(key, list);
    return list;
  };
  for (const name of names) {
    // A pass that lost its lock (a slow GitHub call outlived the renewals) stops writing.
    lease.assertHeld();
    const record = await deps.runners.get(name);
    if (!record) continue;
    const outcome = await withdrawRegistration(deps, record, listOnce).catch((error: unknown) => {
      reportSwallowed(deps, error, {
        where: "engine-loss.delete-registration",
        message: "cannot delete a lost runner's registration; next pass retries",
        fields: { runnerName: name },
      });
      return "failed" as const;
    });
    if (outcome === "busy" || outcome === "failed") {
      kept.add(name);
      continue;
    }
    lease.assertHeld();
    await deps.runners.retire(name, {
      exitedAt: deps.now(),
      exitCode: undefined,
      oomKilled: false,
      reason: "engine-lost",
    });
    await deps.slots.release(record.pool, name, record.engine);
  }
  return kept;
}

async function withdrawRegistration(
  deps: EngineLossDeps,
  record: RunnerRecord,
  listOnce: (target: RunnerTarget) => Promise<GitHubRunner[]>,
): Promise<"deleted" | "missing" | "busy"> {
  let runnerId = record.runnerId;
  if (runnerId === undefined) {
    const found = (await listOnce(record)).find((registration) => registration.name === record.name);
    if (!found) return "missing";
    if (found.busy) return "busy";
    runnerId = found.id;
  }
  return deps.github.deleteRunner(record, runnerId);
}
