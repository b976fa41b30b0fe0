import type { Pool, ScheduleEntry } from "../config/pools.js";
import { scheduleMatches } from "../config/schedule.js";
import { WARM_BURST_QUANTILE } from "../tunables.js";

/** What a pool's warm target is decided from, read by the caller (warm-signals.ts) so the decision stays pure. */
export interface WarmInputs {
  now: number;
  /** The pool's jobs that arrived in its last forecastWindow. */
  recentArrivals: number;
  /** ... and in the last shortWindowMs (a minute), so a pool waking from a lull reacts at once. */
  lateArrivals: number;
  shortWindowMs: number;
  /** Mean arrivals per hour in the same hour of the week of earlier weeks; undefined before a week of history. */
  sameHour: { perHour: number; weeks: number } | undefined;
  /** The pool's recent runner boot (container start to online), seconds; undefined before one was measured. */
  bootSeconds: number | undefined;
  /** Boot time assumed before one was measured. */
  defaultBootSeconds: number;
  /** Slots of the pool neither held by a busy runner nor spoken for by a waiting job. */
  freeSlots: number;
}

export interface WarmForecast {
  /** The rate the forecast uses: the higher of the recent rate and the same hour of earlier weeks. */
  perMinute: number;
  recentPerMinute: number;
  sameHourPerMinute: number | null;
  historyWeeks: number;
  bootSeconds: number;
  bootMeasured: boolean;
  /** Jobs expected during one boot. */
  expected: number;
  /** Idle runners that serve the arrivals of one boot WARM_BURST_QUANTILE of the time. */
  withMargin: number;
}

/** Why a pool keeps the idle runners it does. */
export interface WarmReason {
  /** floor: minIdle; schedule: a matching schedule entry; forecast: the adaptive forecast, above the floor. */
  kind: "floor" | "schedule" | "forecast";
  /** minIdle, or the matching schedule entry's. */
  floor: number;
  schedule: ScheduleEntry | null;
  /** An adaptive pool's forecast (null for a static one). */
  forecast: WarmForecast | null;
  /** What held the target below what the floor or forecast asked for. */
  cappedBy: { by: "maxIdle" | "freeSlots"; limit: number } | null;
}

export interface WarmTarget {
  /** Idle runners (starting ones included) the pool keeps beyond those its waiting jobs claim. */
  target: number;
  reason: WarmReason;
}

type WarmPool = Pick<Pool, "minIdle" | "schedule" | "warm" | "maxIdle" | "forecastWindow">;

/** The floor now: the highest schedule entry whose cron matches this minute, else minIdle. */
export function warmFloor(
  pool: Pick<Pool, "minIdle" | "schedule">,
  now: number,
): Pick<WarmReason, "floor" | "schedule"> {
  let best: ScheduleEntry | null = null;
  for (const entry of pool.schedule) {
    if ((best === null || entry.minIdle > best.minIdle) && scheduleMatches(entry, now)) best = entry;
  }
  return best ? { floor: best.minIdle, schedule: best } : { floor: pool.minIdle, schedule: null };
}

/** The smallest k with P(N <= k) >= quantile for N ~ Poisson(mean). */
export function poissonQuantile(mean: number, quantile: number): number {
  if (mean <= 0) return 0;
  let term = Math.exp(-mean);
  let cumulative = term;
  let k = 0;
  // The tail beyond mean + 10 sqrt(mean) + 10 is negligible; the bound also ends a loop that
  // exp(-mean) underflowing to 0 would never end.
  const limit = Math.ceil(mean + 10 * Math.sqrt(mean) + 10);
  while (cumulative < quantile && k < limit) {
    k++;
    term *= mean / k;
    cumulative += term;
  }
  return k;
}

export function warmForecast(pool: Pick<Pool, "forecastWindow">, inputs: WarmInputs): WarmForecast {
  const recentPerMinute =
    Math.max(
      inputs.recentArrivals / pool.forecastWindow,
      inputs.lateArrivals / Math.min(inputs.shortWindowMs, pool.forecastWindow),
    ) * 60_000;
  const sameHourPerMinute = inputs.sameHour ? inputs.sameHour.perHour / 60 : null;
  const perMinute = Math.max(recentPerMinute, sameHourPerMinute ?? 0);
  const bootSeconds = inputs.bootSeconds ?? inputs.defaultBootSeconds;
  const expected = (perMinute / 60) * bootSeconds;
  return {
    perMinute,
    recentPerMinute,
    sameHourPerMinute,
    historyWeeks: inputs.sameHour?.weeks ?? 0,
    bootSeconds,
    bootMeasured: inputs.bootSeconds !== undefined,
    expected,
    withMargin: poissonQuantile(expected, WARM_BURST_QUANTILE),
  };
}

/**
 * How many idle runners a pool keeps now, and why. A static pool keeps its floor (minIdle, or the
 * matching schedule entry's); an adaptive one keeps as many as the jobs arriving over one runner
 * boot need, with a margin for bursts, at least the floor and at most maxIdle (default: the floor).
 * Without demand an adaptive pool falls back to its floor. Never more than the pool's free slots.
 */
export function decideWarmTarget(pool: WarmPool, inputs: WarmInputs): WarmTarget {
  const { floor, schedule } = warmFloor(pool, inputs.now);
  const forecast = pool.warm === "adaptive" ? warmForecast(pool, inputs) : null;
  const floorKind = schedule ? "schedule" : "floor";
  let wanted = floor;
  let kind: WarmReason["kind"] = floorKind;
  let cappedBy: WarmReason["cappedBy"] = null;
  if (forecast && forecast.withMargin > floor) {
    const maxIdle = Math.max(pool.maxIdle ?? floor, floor);
    wanted = Math.min(forecast.withMargin, maxIdle);
    kind = wanted > floor ? "forecast" : floorKind;
    if (forecast.withMargin > maxIdle) cappedBy = { by: "maxIdle", limit: maxIdle };
  }
  const free = Math.max(0, inputs.freeSlots);
  if (wanted > free) {
    wanted = free;
    cappedBy = { by: "freeSlots", limit: free };
  }
  return { target: wanted, reason: { kind, floor, schedule, forecast, cappedBy } };
}
