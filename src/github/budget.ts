import type { StoreContext } from "../state/store-context.js";
import { GITHUB_SERVER_ERROR_BACKOFF_MS, GITHUB_SERVER_ERROR_TRIES } from "../tunables.js";

/** The budget of the calls made with the app's own JWT (not an installation token): GitHub limits them apart. */
export const APP_BUDGET = "app";

/** GitHub's secondary-limit cost of a write (POST, PATCH, PUT, DELETE); a read costs 1. */
export const WRITE_POINTS = 5;

/** A token bucket in GitHub's secondary-limit points: a GET costs 1, any other method 5. */
export interface GitHubBudgetSettings {
  /** Points that may be spent at once after a quiet spell (the bucket's size). */
  burstPoints: number;
  /** Points added back per minute. */
  pointsPerMinute: number;
  /** Points only runner registrations and deletions may spend; other calls leave them. */
  reservePoints: number;
}

/**
 * Runner registrations and deletions (and the installation tokens and runner-group lookups they
 * need) come first: a job waits for them. Everything else (lists, job status, deliveries) may only
 * spend points above the reserve.
 */
export type CallPriority = "runner" | "other";

export interface GitHubCall {
  priority: CallPriority;
  /** GitHub's secondary-limit points: 1 for GET/HEAD/OPTIONS, 5 otherwise. */
  points: number;
}

/** One installation's GitHub figures as every process sees them (GitHubBudget.figures). */
export interface InstallationBudgetFigures {
  /** Points left in its bucket now (negative while a pause lasts: what it must refill first). */
  points: number;
  /** Ms its pause still lasts (0: not paused). */
  pausedForMs: number;
  /** Requests left in GitHub's hourly limit when below the floor; undefined when above or unknown. */
  belowFloor: number | undefined;
}

/**
 * The GitHub call budget of every process, kept in Redis per installation ("app" for the app's
 * JWT), as GitHub keeps its limits per installation token: a token bucket in GitHub's
 * secondary-limit points, a pause every process honours once GitHub has said no, and the hourly
 * requests left when below the floor. One installation's spent budget never holds another's calls.
 */
export interface GitHubBudget {
  /** Spends the call's points now (0) or says how many ms to wait before asking again. */
  tryTake(installation: string, call: GitHubCall): Promise<number>;
  /** Waits until the call's points are spent; rejects after maxWaitMs. */
  take(installation: string, call: GitHubCall): Promise<void>;
  /**
   * No process calls GitHub for this installation for this long (GitHub's retry-after or
   * rate-limit reset); other installations go on.
   */
  pause(installation: string, ms: number): Promise<void>;
  /**
   * GitHub's hourly requests left for an installation ("app": the app's JWT) when they are below
   * the rate-limit floor, as the last response told any process; undefined when above or unknown.
   */
  belowFloor(installation: string): Promise<number | undefined>;
  /** What a response said about the hourly limit: remembered by every process until the reset when below the floor. */
  observeRateLimit(installation: string, remaining: number, untilResetMs: number): Promise<void>;
  /** The installation's bucket, pause and floor now, for the admin API. */
  figures(installation: string): Promise<InstallationBudgetFigures>;
}

export interface BudgetDeps {
  store: StoreContext;
  settings: GitHubBudgetSettings;
  sleep: (ms: number) => Promise<void>;
  /** A call that cannot get its points within this time fails (every GitHub call has a bound). */
  maxWaitMs: number;
  /** Below this many requests left in GitHub's hourly limit, only runner calls are made; 0: no floor. */
  rateLimitFloor?: number;
}

export function createGitHubBudget(deps: BudgetDeps): GitHubBudget {
  const { settings } = deps;
  const { redis, keys } = deps.store;
  const perMs = settings.pointsPerMinute / 60_000;
  const floor = deps.rateLimitFloor ?? 0;

  const budget: GitHubBudget = {
    async tryTake(installation, call) {
      const floor = call.priority === "runner" ? 0 : settings.reservePoints;
      return redis.runnerhubTakeGitHubBudget(
        keys.githubInstallationBudget(installation),
        keys.githubPause(installation),
        settings.burstPoints,
        perMs,
        call.points,
        floor,
      );
    },
    async take(installation, call) {
      let waited = 0;
      for (;;) {
        const waitMs = await budget.tryTake(installation, call);
        if (waitMs === 0) return;
        if (waited + waitMs > deps.maxWaitMs) {
          throw new Error(
            `GitHub call budget: no ${call.points} points within ${deps.maxWaitMs} ms ` +
              `(${settings.pointsPerMinute} points a minute for installation ${installation}, shared by every process); raise RUNNERHUB_GITHUB_POINTS_PER_MINUTE if GitHub allows more`,
          );
        }
        await deps.sleep(waitMs);
        waited += waitMs;
      }
    },
    async pause(installation, ms) {
      await redis.runnerhubPauseGitHubBudget(
        keys.githubInstallationBudget(installation),
        keys.githubPause(installation),
        Math.max(1, Math.ceil(ms)),
        settings.burstPoints,
        perMs,
      );
    },
    async belowFloor(installation) {
      if (!floor) return undefined;
      const text = await redis.get(keys.githubRateLimit(installation));
      return text === null ? undefined : Number(text);
    },
    async observeRateLimit(installation, remaining, untilResetMs) {
      // Above the floor nothing is written: the common case costs no Redis call.
      if (!floor || remaining >= floor) return;
      await redis.set(
        keys.githubRateLimit(installation),
        String(remaining),
        "PX",
        Math.max(1000, Math.ceil(untilResetMs)),
      );
    },
    async figures(installation) {
      const [time, bucket, pausedUntil, belowFloor] = await Promise.all([
        redis.time(),
        redis.hmget(keys.githubInstallationBudget(installation), "points", "at"),
        redis.get(keys.githubPause(installation)),
        budget.belowFloor(installation),
      ]);
      return bucketFigures({
        nowMs: Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000),
        points: bucket[0] ?? null,
        at: bucket[1] ?? null,
        pausedUntil,
        belowFloor,
        burstPoints: settings.burstPoints,
        perMs,
      });
    },
  };
  return budget;
}

/** take-github-budget.lua's refill, read without spending: what a bucket holds at nowMs. */
export function bucketFigures(input: {
  nowMs: number;
  points: string | null;
  at: string | null;
  pausedUntil: string | null;
  belowFloor: number | undefined;
  burstPoints: number;
  perMs: number;
}): InstallationBudgetFigures {
  const { nowMs, burstPoints, perMs } = input;
  const left = input.points === null ? burstPoints : Number(input.points);
  const at = input.at === null ? nowMs : Number(input.at);
  const points = Math.min(burstPoints, left + (nowMs - at) * perMs);
  const pausedForMs = Math.max(0, Number(input.pausedUntil ?? 0) - nowMs);
  return { points: Math.floor(points), pausedForMs, belowFloor: input.belowFloor };
}

/**
 * Registrations, deletions, and the installation token a registration needs first; Octokit passes
 * route templates (`{runner_id}`), paginate and plain requests full paths (`42`).
 */
const RUNNER_CALL =
  /(\/actions\/runners\/(generate-jitconfig|registration-token|\d+|\{runner_id\})|\/app\/installations\/(\d+|\{installation_id\})\/access_tokens)$/;

/** The organization's runner groups: a JIT config needs the pool's group id first. */
const RUNNER_GROUPS = /\/orgs\/[^/]+\/actions\/runner-groups$/;

/** What one GitHub request costs and how urgent it is, from its method and URL. */
export function classifyCall(method: string, url: string): GitHubCall {
  const upper = method.toUpperCase();
  const read = upper === "GET" || upper === "HEAD" || upper === "OPTIONS";
  const path = url.split("?")[0] ?? url;
  const runner =
    ((upper === "DELETE" || upper === "POST") && RUNNER_CALL.test(path)) ||
    (upper === "GET" && RUNNER_GROUPS.test(path));
  return { priority: runner ? "runner" : "other", points: read ? 1 : WRITE_POINTS };
}

/** GitHub's advice when it gives no retry-after for a secondary limit: wait at least a minute. */
const SECONDARY_LIMIT_DEFAULT_MS = 60_000;

/**
 * How long GitHub asks every caller to back off after this error; undefined when the error is not
 * a rate limit (a 403 for a missing permission, say). retry-after wins; a spent primary limit
 * (x-ratelimit-remaining 0) waits for x-ratelimit-reset; a secondary limit without either waits
 * a minute.
 */
export function backoffAfter(error: unknown, nowMs: number): number | undefined {
  if (typeof error !== "object" || error === null || !("status" in error)) return undefined;
  const status = error.status;
  if (status !== 403 && status !== 429) return undefined;
  const response = "response" in error ? (error.response as { headers?: Record<string, string | undefined> }) : {};
  const headers = response?.headers ?? {};
  const retryAfter = Number(headers["retry-after"]);
  if (headers["retry-after"] !== undefined && Number.isFinite(retryAfter)) return Math.max(1, retryAfter) * 1000;
  if (headers["x-ratelimit-remaining"] === "0") {
    const reset = Number(headers["x-ratelimit-reset"]) * 1000;
    return Number.isFinite(reset) ? Math.max(1000, reset - nowMs) : SECONDARY_LIMIT_DEFAULT_MS;
  }
  const message = "message" in error ? String(error.message) : "";
  if (status === 429 || /secondary rate limit/i.test(message)) return SECONDARY_LIMIT_DEFAULT_MS;
  return undefined;
}

/**
 * How long to wait before trying again a request GitHub answered with a server error (Octokit
 * reports a request that got no answer as status 500), after `attempt` tries; undefined when it
 * is not one, or when the tries are used up. Client errors (4xx) are never tried again: the same
 * request would get the same answer, and rate limits are backoffAfter's.
 */
export function serverErrorBackoff(error: unknown, attempt: number): number | undefined {
  if (typeof error !== "object" || error === null || !("status" in error)) return undefined;
  const status = Number(error.status);
  if (!(status >= 500) || attempt >= GITHUB_SERVER_ERROR_TRIES) return undefined;
  return GITHUB_SERVER_ERROR_BACKOFF_MS * attempt ** 2;
}
