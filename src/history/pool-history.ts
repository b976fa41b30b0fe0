import type { RunnerRecord } from "../state/runner-store.js";

/**
 * A pool's last hour as the dashboard draws it, computed from what the history store keeps
 * (samples and raw pickups) without I/O, so it is unit-tested.
 */

/** One moment of a pool: its runners by state, the jobs waiting for one, and how many idle runners it aims to keep. */
export interface PoolSample {
  at: number;
  starting: number;
  idle: number;
  busy: number;
  waiting: number;
  target: number;
}

/** One job taken by a runner: when (ms) and how long after its queued webhook (s). */
export interface Pickup {
  at: number;
  seconds: number;
}

/** Pickup percentiles of the jobs taken in [at, at + bucket). */
export interface PickupPoint {
  at: number;
  p50: number;
  p95: number;
  jobs: number;
}

/** What the charts of one pool draw: the window, the samples in it and the pickup percentiles over it. */
export interface PoolHistory {
  pool: string;
  from: number;
  to: number;
  /** The warm target now, read through the same function as the samples'. */
  target: number;
  samples: PoolSample[];
  pickups: PickupPoint[];
}

/** The nearest-rank percentile (q in 0..1) of values sorted ascending; 0 for none. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] ?? 0;
}

/** The start of the interval `at` falls in: every process names a moment's sample alike. */
export function sampleTime(at: number, everyMs: number): number {
  return Math.floor(at / everyMs) * everyMs;
}

/** Pickups grouped by bucket (aligned to bucketMs), each with its p50 and p95; buckets without a job are left out. */
export function pickupPoints(pickups: readonly Pickup[], from: number, bucketMs: number): PickupPoint[] {
  const buckets = new Map<number, number[]>();
  for (const pickup of pickups) {
    if (pickup.at < from) continue;
    const at = sampleTime(pickup.at, bucketMs);
    const seconds = buckets.get(at) ?? [];
    seconds.push(pickup.seconds);
    buckets.set(at, seconds);
  }
  return [...buckets.entries()]
    .sort(([a], [b]) => a - b)
    .map(([at, seconds]) => {
      const sorted = seconds.sort((a, b) => a - b);
      return { at, p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), jobs: sorted.length };
    });
}

/** The pool's sample at `at` from the live runner records, its waiting jobs and its warm target. */
export function poolSample(
  pool: string,
  at: number,
  runners: readonly Pick<RunnerRecord, "pool" | "state">[],
  waiting: number,
  target: number,
): PoolSample {
  const sample: PoolSample = { at, starting: 0, idle: 0, busy: 0, waiting, target };
  for (const runner of runners) {
    if (runner.pool === pool) sample[runner.state] += 1;
  }
  return sample;
}
