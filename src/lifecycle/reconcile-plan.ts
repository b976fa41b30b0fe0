import type { Pool } from "../config/pools.js";
import { hasEnded, type ManagedContainer } from "../docker/engine.js";
import { LABELS } from "../docker/labels.js";
import type { GitHubRunner } from "../github/runners-api.js";
import { targetKey, type RunnerScope, type RunnerTarget } from "../scope/runner-scope.js";
import { parseRunnerName } from "../pools/runner-names.js";
import { freeRunners, unservedJobs } from "../pools/supply.js";
import { matchDemand, recordReach } from "../pools/coverage.js";
import { recordRepository, surplusByRepository } from "../pools/fair-share.js";
import { warmShortfall, warmTarget } from "../pools/warm.js";
import type { ProvisionRequest } from "../queue/jobs.js";
import { isOnEngine, type RunnerRecord, type RunnerState } from "../state/runner-store.js";

/** Everything one reconcile pass looks at, read once at its start. */
export interface ReconcileSnapshot {
  now: number;
  /** The engine this pass acts on; other engines' runners are only counted. */
  engine: string;
  /** Its Docker engine ID: records of an earlier engine under the same name are not this one's. */
  engineId: string;
  /** A runner gets this long to register and come online before it counts as broken. */
  bootstrapTimeoutMs: number;
  /** Effective pools (run-time overrides applied). */
  pools: readonly Pool[];
  /** Managed containers on this engine. */
  containers: readonly ManagedContainer[];
  /** Runner records of every engine. */
  records: readonly RunnerRecord[];
  /** Registrations per listed target (key: targetKey); a target missing here was not listed. */
  registrations: ReadonlyMap<string, { target: RunnerTarget; runners: readonly GitHubRunner[] }>;
  /** Jobs still waiting for a runner, per pool, oldest first. */
  waitingJobs: ReadonlyMap<string, readonly ProvisionRequest[]>;
  /** Provision-queue entries not yet turned into runners, per pool: runners on their way. */
  pendingDemand: ReadonlyMap<string, number>;
  /**
   * Idle runners each pool keeps beyond those its waiting jobs claim (src/pools/warm-target.ts:
   * the floor, its schedule or the adaptive forecast); a pool missing here keeps warmTarget's (pools/warm.ts).
   */
  warmTargets: ReadonlyMap<string, number>;
  /** Runners holding a confirmed capacity slot, per pool, and of this engine. */
  slotHolders: { pools: ReadonlyMap<string, readonly string[]>; engine: readonly string[] };
}

export type ReconcileAction =
  | { kind: "clean-exited"; containerId: string; labels: Record<string, string> }
  | { kind: "stop"; runnerName: string; containerId: string; reason: "max-lifetime" | "no-registration" | "no-record" }
  | {
      kind: "retire";
      pool: string;
      runnerName: string;
      containerId: string;
      runnerId: number;
      target: RunnerTarget;
      reason: "idle-timeout" | "surplus";
    }
  | { kind: "delete-registration"; runnerName: string; runnerId: number; target: RunnerTarget }
  | { kind: "forget-record"; runnerName: string; pool: string }
  | { kind: "release-slot"; runnerName: string; slot: { kind: "pool" | "engine"; name: string } }
  | { kind: "mark"; runnerName: string; state: RunnerState; runnerId: number }
  /**
   * A live container whose record is missing (Redis lost it: fresh) or lacks the container (its
   * worker died before writing it): the record is written from the container's labels and the
   * registration, and its slot confirmed if there is room, else the runner is drained.
   */
  | { kind: "adopt"; record: RunnerRecord; fresh: boolean }
  | { kind: "warm"; pool: string; count: number }
  | { kind: "provision"; pool: string; requests: ProvisionRequest[] };

/** Parses a pool's warmScope ("org" or "owner/repo"). */
export function parseScope(text: string): RunnerScope {
  const [owner, repo] = text.split("/");
  return repo ? { kind: "repo", owner: owner ?? "", repo } : { kind: "org", org: owner ?? "" };
}

/** The scope a runner registered with, from its container's labels; undefined when they do not say. */
export function targetFromLabels(labels: Record<string, string>): RunnerTarget | undefined {
  const installationId = Number(labels[LABELS.installationId]);
  const owner = labels[LABELS.owner];
  if (!Number.isSafeInteger(installationId) || installationId <= 0 || !owner) return undefined;
  const repo = labels[LABELS.repo];
  return { installationId, scope: repo ? { kind: "repo", owner, repo } : { kind: "org", org: owner } };
}

/** A runner record rebuilt from what its container's labels and GitHub's registration say. */
function recordFromContainer(
  container: ManagedContainer,
  pool: Pool,
  target: RunnerTarget,
  registration: GitHubRunner,
  engine: { name: string; id: string },
): RunnerRecord {
  const githubJobId = Number(container.labels[LABELS.githubJobId]);
  return {
    name: container.name,
    pool: pool.name,
    engine: engine.name,
    engineId: engine.id,
    ...target,
    githubJobId: Number.isSafeInteger(githubJobId) ? githubJobId : 0,
    runnerId: registration.id,
    containerId: container.id,
    state: stateFrom(registration),
    busyJobId: undefined,
    createdAt: container.createdAt,
    completedAt: undefined,
  };
}

function stateFrom(registration: GitHubRunner): RunnerState {
  if (registration.busy) return "busy";
  return registration.online ? "idle" : "starting";
}

/**
 * The scopes whose registrations this engine's pass needs: those of its runners that are neither
 * busy nor new (idle ones to judge, ones that never registered). On the happy path a runner takes
 * its job within seconds and webhooks say the rest, so most passes list nothing.
 */
export function scopesNeedingView(
  records: readonly RunnerRecord[],
  engine: { name: string; id: string },
  now: number,
  freshMs: number,
): RunnerTarget[] {
  const targets = new Map<string, RunnerTarget>();
  for (const record of records) {
    if (!isOnEngine(record, engine.name, engine.id) || record.state === "busy" || now - record.createdAt < freshMs) {
      continue;
    }
    targets.set(targetKey(record), { installationId: record.installationId, scope: record.scope });
  }
  return [...targets.values()];
}

/**
 * Desired versus actual for one engine, like a Kubernetes controller: what to remove, retire,
 * forget or create so that containers, GitHub registrations, records and capacity agree again.
 * Pure: the adapter gathers the snapshot and carries out the actions.
 */
export function planReconcile(snap: ReconcileSnapshot): ReconcileAction[] {
  const actions: ReconcileAction[] = [];
  const poolsByName = new Map(snap.pools.map((pool) => [pool.name, pool]));
  const recordsByName = new Map(snap.records.map((record) => [record.name, record]));
  const containersByName = new Map(snap.containers.map((container) => [container.name, container]));
  const registrationsByName = new Map<string, { registration: GitHubRunner; target: RunnerTarget }>();
  const listedTargets = new Set(snap.registrations.keys());
  for (const { target, runners } of snap.registrations.values()) {
    for (const registration of runners) registrationsByName.set(registration.name, { registration, target });
  }
  /** Whether a registration's name is one runnerhub gave a runner of a configured pool. */
  const namedByUs = (name: string) => poolsByName.has(parseRunnerName(name)?.pool ?? "");
  /** Runners of an earlier engine under this name are the engine-loss pass's, never this pass's. */
  const mine = (record: RunnerRecord) => isOnEngine(record, snap.engine, snap.engineId);
  const inTheMaking = (record: RunnerRecord) =>
    record.containerId === undefined && snap.now - record.createdAt < snap.bootstrapTimeoutMs;
  /** What each runner is doing, as far as this pass can tell. */
  const states = new Map<string, RunnerState>();
  const leaving = new Set<string>();

  for (const container of snap.containers) {
    const neverStarted = container.state === "created" && snap.now - container.createdAt > snap.bootstrapTimeoutMs;
    if (hasEnded(container.state) || neverStarted) {
      actions.push({ kind: "clean-exited", containerId: container.id, labels: container.labels });
      leaving.add(container.name);
      continue;
    }
    const record = recordsByName.get(container.name);
    const pool = poolsByName.get(container.labels[LABELS.pool] ?? "");
    const age = snap.now - container.createdAt;
    const found = registrationsByName.get(container.name);
    if (pool && age > pool.maxLifetime) {
      actions.push({ kind: "stop", runnerName: container.name, containerId: container.id, reason: "max-lifetime" });
      leaving.add(container.name);
      continue;
    }
    if (!record) {
      // Only GitHub's word stops a runner without a record (Redis may have lost every record):
      // registered, it is adopted; unregistered in a scope this pass listed, after the bootstrap
      // timeout measured from its container's creation, it is stopped; otherwise left alone.
      const target = targetFromLabels(container.labels);
      if (found && pool && target) {
        const adopted = recordFromContainer(container, pool, target, found.registration, {
          name: snap.engine,
          id: snap.engineId,
        });
        actions.push({ kind: "adopt", record: adopted, fresh: true });
        states.set(adopted.name, adopted.state);
      } else if (!found && target && listedTargets.has(targetKey(target)) && age > snap.bootstrapTimeoutMs) {
        actions.push({ kind: "stop", runnerName: container.name, containerId: container.id, reason: "no-record" });
        leaving.add(container.name);
      }
      continue;
    }
    if (record.retiring) {
      leaving.add(record.name);
      continue;
    }
    // A worker killed between starting the container and writing its id; a live worker re-running
    // that provisioning adopts it sooner, this is the fallback when none does.
    if (record.containerId === undefined && container.state === "running" && age > snap.bootstrapTimeoutMs) {
      actions.push({ kind: "adopt", record: { ...record, containerId: container.id }, fresh: false });
    }
    const listed = listedTargets.has(targetKey(record));
    if (!found) {
      // Without a registration a runner can take no job; once its job is done GitHub removes it,
      // and a busy runner's container then exits by itself (or the completed-job stop catches it).
      if (listed && record.state !== "busy" && age > snap.bootstrapTimeoutMs) {
        actions.push({ kind: "stop", runnerName: record.name, containerId: container.id, reason: "no-registration" });
        leaving.add(record.name);
      } else {
        states.set(record.name, record.state);
      }
      continue;
    }
    const observed = stateFrom(found.registration);
    // GitHub's busy flag may lag the in_progress webhook; never step back from busy.
    const state = record.state === "busy" ? "busy" : observed;
    states.set(record.name, state);
    // Token-registered runners learn their GitHub id here, from the listing.
    if (state !== record.state || record.runnerId === undefined) {
      actions.push({ kind: "mark", runnerName: record.name, state, runnerId: found.registration.id });
    }
  }

  for (const record of snap.records) {
    if (!mine(record) || containersByName.has(record.name) || inTheMaking(record)) continue;
    actions.push({ kind: "forget-record", runnerName: record.name, pool: record.pool });
    leaving.add(record.name);
  }

  for (const [name, { registration, target }] of registrationsByName) {
    if (containersByName.has(name) || registration.busy || !namedByUs(name)) continue;
    const record = recordsByName.get(name);
    if (record && (!mine(record) || inTheMaking(record))) continue;
    actions.push({ kind: "delete-registration", runnerName: name, runnerId: registration.id, target });
  }

  // A slot whose runner has neither a record nor a container here leaked (e.g. Redis lost a write).
  const leaked = (holder: string) => !recordsByName.has(holder) && !containersByName.has(holder);
  for (const [pool, holders] of snap.slotHolders.pools) {
    for (const holder of holders.filter(leaked)) {
      actions.push({ kind: "release-slot", runnerName: holder, slot: { kind: "pool", name: pool } });
    }
  }
  for (const holder of snap.slotHolders.engine.filter(leaked)) {
    actions.push({ kind: "release-slot", runnerName: holder, slot: { kind: "engine", name: snap.engine } });
  }

  // Adopted runners are the pool's from now on: counted before anything is made or retired.
  const adopted = actions.flatMap((action) => (action.kind === "adopt" && action.fresh ? [action.record] : []));
  const withAdopted = { ...snap, records: [...snap.records, ...adopted] };
  // They are judged from the next pass on: their jobs' demand may be what Redis lost.
  const justAdopted = new Set(adopted.map((record) => record.name));
  for (const pool of snap.pools) actions.push(...planPoolSize(pool, withAdopted, states, leaving, justAdopted));
  return actions;
}

/** Retire idle runners the pool does not need; ask for runners its waiting jobs and warm target lack. */
function planPoolSize(
  pool: Pool,
  snap: ReconcileSnapshot,
  states: ReadonlyMap<string, RunnerState>,
  leaving: ReadonlySet<string>,
  justAdopted: ReadonlySet<string>,
): ReconcileAction[] {
  const actions: ReconcileAction[] = [];
  const waitingJobs = snap.waitingJobs.get(pool.name) ?? [];
  const waiting = new Set(waitingJobs.map((request) => request.githubJobId));
  const members = snap.records.filter((record) => record.pool === pool.name && !leaving.has(record.name));
  const stateOf = (record: RunnerRecord) => states.get(record.name) ?? record.state;
  const free = freeRunners(pool.name, members, stateOf);
  const idle = free.filter((record) => stateOf(record) === "idle");
  // Waiting jobs claim the idle or starting runners whose scope and size cover them, then the warm
  // target: a free runner of another organization is no runner for a job, and is surplus.
  const target = pool.warmScope ? (snap.warmTargets.get(pool.name) ?? warmTarget(pool)) : 0;
  const { unserved: unservedRequests, claimed } = matchDemand(waitingJobs, free, (record) => recordReach(pool, record));
  // A fair-share pool keeps an idle runner while it has room (its per-repository surplus is judged
  // below, once full); in any other pool a runner no waiting job can claim is surplus.
  const claiming = pool.perRepository ? waiting.size : claimed.size;
  let surplus = Math.min(idle.length, free.length - claiming - target);
  // A full fair-share pool also judges each repository on its own: an idle runner of one
  // repository is surplus when another repository waits for the slot it holds.
  const full = pool.perRepository !== undefined && members.length >= pool.maxRunners;
  const repositorySurplus = full ? surplusByRepository(waitingJobs, free, idle) : new Map<string, number>();

  const candidates = idle
    // Only runners of this engine whose registration this pass could see are judged.
    .filter(
      (record) =>
        isOnEngine(record, snap.engine, snap.engineId) &&
        !justAdopted.has(record.name) &&
        record.containerId !== undefined &&
        record.runnerId !== undefined &&
        snap.registrations.has(targetKey(record)),
    )
    .map((record) => ({ record, orphaned: record.githubJobId > 0 && !waiting.has(record.githubJobId) }))
    // Runners whose job went elsewhere (cancelled, or taken by another runner) go first, oldest first.
    .sort((a, b) => Number(b.orphaned) - Number(a.orphaned) || a.record.createdAt - b.record.createdAt);
  for (const { record, orphaned } of candidates) {
    const repository = recordRepository(record) ?? "";
    const share = repositorySurplus.get(repository) ?? 0;
    if (surplus <= 0 && share <= 0) continue;
    const idleLong = snap.now - record.createdAt > pool.idleTimeout;
    if (!orphaned && !idleLong) continue;
    actions.push({
      kind: "retire",
      pool: pool.name,
      runnerName: record.name,
      containerId: record.containerId ?? "",
      runnerId: record.runnerId ?? 0,
      target: { installationId: record.installationId, scope: record.scope },
      reason: orphaned ? "surplus" : "idle-timeout",
    });
    surplus--;
    repositorySurplus.set(repository, share - 1);
  }

  // Demand lost on the way (a runner that died before taking a job, provisioning that gave up)
  // would leave a job waiting for ever; the oldest waiting jobs get a runner again.
  const room = Math.max(0, pool.maxRunners - members.length);
  const pending = snap.pendingDemand.get(pool.name) ?? 0;
  const unserved = Math.min(unservedJobs(unservedRequests.length, pending), room);
  if (unserved > 0) actions.push({ kind: "provision", pool: pool.name, requests: unservedRequests.slice(0, unserved) });

  const count = warmShortfall({ target, free: free.length, waiting: waiting.size, room, unserved });
  if (count > 0) actions.push({ kind: "warm", pool: pool.name, count });
  return actions;
}
