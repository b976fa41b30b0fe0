import type { Logger } from "pino";
import type { ProbotOctokit } from "probot";
import { reportSwallowed } from "../observability/internal-errors.js";
import type { Metrics } from "../observability/metrics.js";
import type { StoreContext } from "../state/store-context.js";
import { MAX_REDELIVERIES } from "../tunables.js";

/** One attempt to deliver a webhook, as GitHub's deliveries API lists it. */
export interface HookDelivery {
  id: number;
  /** The `X-GitHub-Delivery` of the event: the same for every attempt of one event. */
  guid: string;
  /** Epoch ms. */
  deliveredAt: number;
  redelivery: boolean;
  /** 0 when GitHub could not reach the app at all. */
  statusCode: number;
  event: string;
  action: string | null;
}

export interface DeliveriesApi {
  /** Attempts delivered at or after `sinceMs`, newest first. */
  listDeliveries(sinceMs: number): Promise<HookDelivery[]>;
  /** Asks GitHub to send that attempt's event again (same guid, same payload). */
  redeliver(id: number): Promise<void>;
}

export interface DeliveryRecoveryDeps extends DeliveriesApi {
  store: StoreContext;
  log: Logger;
  metrics: Pick<Metrics, "internalErrors">;
  now: () => number;
  /**
   * Events older than this are left alone; also the lifetime of what Redis remembers about an
   * event. GitHub keeps deliveries for a few days and a job stays queued for at most 24 h, so a
   * value of a few hours to a day is what makes sense.
   */
  maxAgeMs: number;
  /** Redeliveries requested per event before giving up on it; default 3. */
  maxRedeliveries?: number;
  /**
   * A pass asks GitHub only when there is a reason: a process started, a webhook was answered
   * with an error (suspectMiss), an event still awaits its redelivery, or this long has passed
   * since the last look (for misses nobody here could see, such as GitHub not reaching the app).
   */
  fullCheckEveryMs: number;
  /** How far before the newest delivery already seen a pass lists again; default 15 s. */
  cursorOverlapMs?: number;
}

export interface DeliveryRecoveryResult {
  /** Delivery attempts listed by GitHub within maxAgeMs. */
  examined: number;
  /** Events GitHub accepted to redeliver in this pass. */
  redelivered: number;
  /** Redelivery requests GitHub refused or that did not reach it; retried on the next pass. */
  failed: number;
  /** Events given up in this pass: every one of their maxRedeliveries redeliveries failed too. */
  abandoned: number;
}

export interface DeliveryRecovery {
  run(): Promise<DeliveryRecoveryResult>;
  /** Something may have been missed (a process started, a webhook failed): the next pass looks. */
  suspectMiss(): Promise<void>;
}

/**
 * How far before the newest delivery already seen a pass lists again: GitHub's delivered_at has
 * one-second resolution, and an attempt still in flight (GitHub waits up to 10 s for an answer)
 * may be listed after a newer one.
 */
const DEFAULT_CURSOR_OVERLAP_MS = 15_000;

const RECOVERED_EVENT = "workflow_job";
const DEFAULT_PER_PAGE = 100;

function answered(delivery: HookDelivery): boolean {
  return delivery.statusCode >= 200 && delivery.statusCode < 300;
}

/** Later delivery first; GitHub's timestamps have 1 s resolution, so ids break ties. */
function newer(a: HookDelivery, b: HookDelivery): HookDelivery {
  if (a.deliveredAt !== b.deliveredAt) return a.deliveredAt > b.deliveredAt ? a : b;
  return a.id > b.id ? a : b;
}

function older(a: HookDelivery, b: HookDelivery): HookDelivery {
  return newer(a, b) === a ? b : a;
}

/**
 * The `workflow_job` events the app never answered with a 2xx, as the attempt to redeliver for
 * each (its most recent one), oldest event first so a job's queued comes before its completed.
 *
 * An event counts from its original attempt. An event whose original attempt is not in the list
 * is skipped: its history reaches beyond what was listed, so an earlier attempt may have been
 * answered.
 */
export function pickRedeliveries(
  deliveries: HookDelivery[],
  alreadyRedelivered: ReadonlySet<string>,
  now: number,
  maxAgeMs: number,
): HookDelivery[] {
  const attemptsByGuid = new Map<string, HookDelivery[]>();
  for (const delivery of deliveries) {
    if (delivery.event !== RECOVERED_EVENT || alreadyRedelivered.has(delivery.guid)) continue;
    const attempts = attemptsByGuid.get(delivery.guid);
    if (attempts) attempts.push(delivery);
    else attemptsByGuid.set(delivery.guid, [delivery]);
  }

  const picks: { original: HookDelivery; latest: HookDelivery }[] = [];
  for (const attempts of attemptsByGuid.values()) {
    if (attempts.some(answered)) continue;
    const originals = attempts.filter((attempt) => !attempt.redelivery);
    if (originals.length === 0) continue;
    const original = originals.reduce(older);
    if (now - original.deliveredAt >= maxAgeMs) continue;
    picks.push({ original, latest: attempts.reduce(newer) });
  }
  picks.sort((a, b) => a.original.deliveredAt - b.original.deliveredAt || a.original.id - b.original.id);
  return picks.map((pick) => pick.latest);
}

/** What a pass read: GitHub's list, the events in it to redeliver, and each one's redeliveries requested and listed. */
interface Pass {
  deliveries: HookDelivery[];
  candidates: HookDelivery[];
  requested: Map<string, number>;
  seen: Map<string, number>;
}

/** How many redeliveries of each event GitHub lists. */
function redeliveriesSeen(deliveries: readonly HookDelivery[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const delivery of deliveries) {
    if (delivery.redelivery) seen.set(delivery.guid, (seen.get(delivery.guid) ?? 0) + 1);
  }
  return seen;
}

/** Every one of the event's redeliveries was requested and is listed, failed too. */
function givenUp(pass: Pass, guid: string, maxRedeliveries: number): boolean {
  const count = pass.requested.get(guid) ?? 0;
  return count >= maxRedeliveries && (pass.seen.get(guid) ?? 0) >= count;
}

/**
 * The events this pass leaves alone: given up (each reported once, across processes), or with a
 * redelivery still on its way.
 */
async function holdBack(
  pass: Pass,
  maxRedeliveries: number,
  markAbandoned: (guid: string) => Promise<boolean>,
  log: Logger,
): Promise<{ held: Set<string>; abandoned: number }> {
  const held = new Set<string>();
  let abandoned = 0;
  for (const candidate of pass.candidates) {
    const count = pass.requested.get(candidate.guid) ?? 0;
    const seen = pass.seen.get(candidate.guid) ?? 0;
    if (count >= maxRedeliveries) {
      held.add(candidate.guid);
      if (seen >= count && (await markAbandoned(candidate.guid))) {
        abandoned += 1;
        log.warn(
          { guid: candidate.guid, event: candidate.event, action: candidate.action, redeliveries: count },
          "webhook delivery abandoned: every redelivery failed",
        );
      }
    } else if (seen < count) {
      held.add(candidate.guid);
      log.debug({ guid: candidate.guid, redeliveries: count, seenRedeliveries: seen }, "redelivery still pending");
    }
  }
  return { held, abandoned };
}

/** Every event still without a 2xx and not given up, with the time of its original attempt. */
function unresolvedOf(pass: Pass, maxRedeliveries: number): Map<string, number> {
  const originalAt = new Map<string, number>();
  for (const delivery of pass.deliveries) {
    if (delivery.redelivery) continue;
    originalAt.set(delivery.guid, Math.min(originalAt.get(delivery.guid) ?? Infinity, delivery.deliveredAt));
  }
  const unresolved = new Map<string, number>();
  for (const candidate of pass.candidates) {
    const at = originalAt.get(candidate.guid);
    if (!givenUp(pass, candidate.guid, maxRedeliveries) && at !== undefined) unresolved.set(candidate.guid, at);
  }
  return unresolved;
}

/**
 * Where a pass starts listing, or undefined when it has no reason to ask GitHub: from shortly
 * before the newest delivery the last pass saw, and further back only as far as the oldest event
 * still awaiting its redelivery, so a pass reads what changed, not the day.
 */
function listStart(
  deps: Pick<DeliveryRecoveryDeps, "maxAgeMs" | "fullCheckEveryMs" | "cursorOverlapMs">,
  now: number,
  last: { cursor: string | null; suspect: string | null; checkedAt: string | null; oldestUnresolved?: number },
): number | undefined {
  const { cursor, oldestUnresolved } = last;
  const due =
    cursor === null ||
    last.suspect !== null ||
    oldestUnresolved !== undefined ||
    last.checkedAt === null ||
    now - Number(last.checkedAt) >= deps.fullCheckEveryMs;
  if (!due) return undefined;
  const from = Math.min(
    cursor === null ? -Infinity : Number(cursor) - (deps.cursorOverlapMs ?? DEFAULT_CURSOR_OVERLAP_MS),
    oldestUnresolved ?? Infinity,
  );
  return Math.max(now - deps.maxAgeMs, from);
}

function passDone(log: Logger, result: DeliveryRecoveryResult): DeliveryRecoveryResult {
  if (result.redelivered + result.failed + result.abandoned > 0) log.info(result, "delivery recovery pass done");
  else log.debug(result, "delivery recovery pass done");
  return result;
}

/**
 * Redelivers the `workflow_job` webhooks GitHub could not deliver (app down, timeout, error
 * answer), since GitHub never retries them by itself.
 *
 * Retry policy: Redis keeps, per event guid, how many redeliveries were requested (a counter that
 * expires maxAgeMs after the last request, so memory stays bounded). A redelivery can fail too
 * (the app is still down); GitHub then lists one more failed attempt for the guid. An event is
 * redelivered again only when every redelivery requested so far shows up in the list as a failed
 * attempt, so a redelivery still on its way is never doubled, and at most maxRedeliveries times
 * in all; after that it is abandoned with one warning. A redelivery request that fails is logged
 * and its count given back, so the next pass tries again. listDeliveries failing rejects run().
 */
export function createDeliveryRecovery(deps: DeliveryRecoveryDeps): DeliveryRecovery {
  const { log } = deps;
  const { redis, keys } = deps.store;
  const maxRedeliveries = deps.maxRedeliveries ?? MAX_REDELIVERIES;
  const ttlMs = String(Math.max(1, Math.ceil(deps.maxAgeMs)));

  async function requestedCounts(guids: string[]): Promise<Map<string, number>> {
    if (guids.length === 0) return new Map();
    const values = await redis.mget(guids.map((guid) => keys.deliveryRedeliveries(guid)));
    return new Map(guids.map((guid, index) => [guid, Number(values[index] ?? 0)]));
  }

  /** True only the first time, so an abandoned event is reported once across processes. */
  async function markAbandoned(guid: string): Promise<boolean> {
    return (await redis.set(keys.deliveryAbandoned(guid), "1", "PX", ttlMs, "NX")) === "OK";
  }

  async function listFrom(now: number): Promise<number | undefined> {
    const [cursor, suspect, checkedAt, oldest] = await Promise.all([
      redis.get(keys.deliveryCursor),
      redis.getdel(keys.deliverySuspect),
      redis.get(keys.deliveryCheckedAt),
      redis.zrange(keys.deliveryUnresolved, "0", "0", "WITHSCORES"),
    ]);
    const oldestUnresolved = oldest[1] === undefined ? undefined : Number(oldest[1]);
    return listStart(deps, now, { cursor, suspect, checkedAt, oldestUnresolved });
  }

  /** Remembers where this pass got to and which events still await a redelivery. */
  async function remember(now: number, deliveries: readonly HookDelivery[], unresolved: Map<string, number>) {
    const newest = deliveries.reduce((latest, delivery) => Math.max(latest, delivery.deliveredAt), 0);
    const multi = redis.multi().set(keys.deliveryCheckedAt, String(now), "PX", ttlMs).del(keys.deliveryUnresolved);
    if (newest > 0) multi.set(keys.deliveryCursor, String(newest), "PX", ttlMs);
    for (const [guid, since] of unresolved) multi.zadd(keys.deliveryUnresolved, String(since), guid);
    if (unresolved.size > 0) multi.pexpire(keys.deliveryUnresolved, ttlMs);
    await multi.exec();
  }

  /** Asks the next pass to look at GitHub, whatever the time since the last look. */
  async function suspectMiss(): Promise<void> {
    await redis.set(keys.deliverySuspect, "1", "PX", ttlMs);
  }

  /** Requests one more redelivery of the event unless another process claimed it first. */
  async function redeliver(delivery: HookDelivery, count: number): Promise<"redelivered" | "failed" | "claimed"> {
    const fields = { guid: delivery.guid, deliveryId: delivery.id, event: delivery.event, action: delivery.action };
    const claimed = await redis.runnerhubClaimRedelivery(
      keys.deliveryRedeliveries(delivery.guid),
      String(count),
      ttlMs,
    );
    if (claimed !== 1) {
      log.debug(fields, "redelivery claimed by another process");
      return "claimed";
    }
    try {
      await deps.redeliver(delivery.id);
      log.info(
        { ...fields, redeliveries: count + 1, lastStatusCode: delivery.statusCode },
        "webhook redelivery requested",
      );
      return "redelivered";
    } catch (error) {
      await redis.runnerhubReleaseRedelivery(keys.deliveryRedeliveries(delivery.guid), String(count + 1));
      reportSwallowed(deps, error, {
        where: "delivery-recovery.redeliver",
        message: "webhook redelivery request failed; the next pass retries",
        fields,
      });
      return "failed";
    }
  }

  return {
    suspectMiss,

    async run() {
      const now = deps.now();
      const since = await listFrom(now);
      if (since === undefined) return { examined: 0, redelivered: 0, failed: 0, abandoned: 0 };
      let deliveries: HookDelivery[];
      try {
        deliveries = await deps.listDeliveries(since);
      } catch (error) {
        await suspectMiss();
        throw error;
      }
      const candidates = pickRedeliveries(deliveries, new Set(), now, deps.maxAgeMs);
      const requested = await requestedCounts(candidates.map((candidate) => candidate.guid));
      const pass: Pass = { deliveries, candidates, requested, seen: redeliveriesSeen(deliveries) };
      const { held, abandoned } = await holdBack(pass, maxRedeliveries, markAbandoned, log);
      let redelivered = 0;
      let failed = 0;
      for (const delivery of pickRedeliveries(deliveries, held, now, deps.maxAgeMs)) {
        const outcome = await redeliver(delivery, requested.get(delivery.guid) ?? 0);
        if (outcome === "redelivered") redelivered += 1;
        if (outcome === "failed") failed += 1;
      }
      // Every event still without a 2xx and not given up is looked at again by the next pass.
      await remember(now, deliveries, unresolvedOf(pass, maxRedeliveries));
      return passDone(log, { examined: deliveries.length, redelivered, failed, abandoned });
    },
  };
}

export type AppOctokit = InstanceType<typeof ProbotOctokit>;

interface DeliveryItem {
  id: number;
  guid: string;
  delivered_at: string;
  redelivery: boolean;
  status_code: number;
  event: string;
  action: string | null;
}

function toHookDelivery(item: DeliveryItem): HookDelivery {
  const deliveredAt = Date.parse(item.delivered_at);
  return {
    id: item.id,
    guid: item.guid,
    // An unreadable time counts as ancient, so such an attempt is never taken for a recent event.
    deliveredAt: Number.isFinite(deliveredAt) ? deliveredAt : 0,
    redelivery: item.redelivery,
    statusCode: item.status_code,
    event: item.event,
    action: item.action,
  };
}

/**
 * listDeliveries / redeliver over GitHub's app webhook deliveries API. Those endpoints take the
 * app's JWT, not an installation token: pass `() => probot.auth()` (no installation id).
 */
export function githubDeliveriesApi(
  appOctokit: () => Promise<AppOctokit>,
  options: { perPage?: number } = {},
): DeliveriesApi {
  const perPage = options.perPage ?? DEFAULT_PER_PAGE;
  return {
    async listDeliveries(sinceMs) {
      const octokit = await appOctokit();
      const found: HookDelivery[] = [];
      const pages = octokit.paginate.iterator(octokit.rest.apps.listWebhookDeliveries, { per_page: perPage });
      for await (const { data } of pages) {
        let reachedOlder = false;
        for (const item of data) {
          const delivery = toHookDelivery(item);
          if (delivery.deliveredAt < sinceMs) reachedOlder = true;
          else found.push(delivery);
        }
        // The list is newest first: once a page reaches past sinceMs, later pages hold only older ones.
        if (reachedOlder) break;
      }
      return found;
    },

    async redeliver(id) {
      const octokit = await appOctokit();
      await octokit.rest.apps.redeliverWebhookDelivery({ delivery_id: id });
    },
  };
}
