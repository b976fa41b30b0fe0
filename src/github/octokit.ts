import type { Logger } from "pino";
import { ProbotOctokit } from "probot";
import type { Counter, Gauge } from "prom-client";
import { APP_BUDGET, backoffAfter, classifyCall, serverErrorBackoff, type GitHubBudget } from "./budget.js";
import { RATE_LIMITED_TRIES } from "../tunables.js";

export interface GitHubMetrics {
  githubRequests: Counter<"installation" | "route" | "status">;
  githubRateLimitRemaining: Gauge<"installation" | "resource">;
  githubBudgetWait: Counter<"installation">;
  githubPauses: Counter<"installation">;
}

type Headers = Record<string, string | number | undefined>;
type OctokitPlugin = Parameters<typeof ProbotOctokit.plugin>[0];

/**
 * A call other than a runner registration or deletion, refused without reaching GitHub because
 * the installation's hourly budget is below RUNNERHUB_GITHUB_RATE_FLOOR: the caller defers it.
 */
export class BelowRateLimitFloor extends Error {
  constructor(
    readonly installation: string,
    readonly remaining: number,
  ) {
    super(
      `GitHub installation ${installation} has ${remaining} requests left this hour, below RUNNERHUB_GITHUB_RATE_FLOOR; ` +
        "only runner registrations and deletions are made until the limit resets",
    );
    this.name = "BelowRateLimitFloor";
  }
}

/**
 * A GitHub request that got no complete answer within RUNNERHUB_GITHUB_TIMEOUT: it was aborted.
 * Not tried again within the request (a POST may have reached GitHub, and the deadline is spent):
 * the work behind it fails and is retried as a whole (a provision entry by BullMQ, a reconcile
 * step by the next pass). Carries no HTTP status, so nothing mistakes it for GitHub's answer.
 */
export class GitHubRequestTimeout extends Error {
  constructor(
    readonly method: string,
    readonly route: string,
    readonly timeoutMs: number,
    readonly installation: string,
  ) {
    super(
      `GitHub did not answer ${method} ${route} (installation ${installation}) within ${timeoutMs} ms: ` +
        "the request was aborted and the work behind it is tried again; raise RUNNERHUB_GITHUB_TIMEOUT if GitHub is only slow",
    );
    this.name = "GitHubRequestTimeout";
  }
}

/** The installation a client acts for, as a label: "app" for the app's own JWT. */
function installationOf(options: { auth?: unknown }): string {
  const auth = options.auth as { installationId?: number | string } | undefined;
  return auth?.installationId === undefined ? APP_BUDGET : String(auth.installationId);
}

/** x-ratelimit-remaining and the ms until x-ratelimit-reset, when a response carries both. */
function rateLimitOf(
  headers: Headers | undefined,
  nowMs: number,
): { remaining: number; untilResetMs: number } | undefined {
  const remaining = Number(headers?.["x-ratelimit-remaining"]);
  const reset = Number(headers?.["x-ratelimit-reset"]) * 1000;
  if (headers?.["x-ratelimit-remaining"] === undefined || !Number.isFinite(remaining) || !Number.isFinite(reset)) {
    return undefined;
  }
  return { remaining, untilResetMs: reset - nowMs };
}

/**
 * The route as a label: Octokit passes the template (/orgs/{org}/actions/runners) for most calls,
 * but paginate's pages come as full URLs; those are cut back to a template so label values stay few.
 */
export function routeLabel(url: string): string {
  if (!url.includes("://") && !url.includes("?")) return url;
  return new URL(url, "http://github.invalid").pathname
    .replace(/^\/api\/v3(?=\/)/, "")
    .replace(/^\/orgs\/[^/]+/, "/orgs/{org}")
    .replace(/^\/repos\/[^/]+\/[^/]+/, "/repos/{owner}/{repo}")
    .replace(/\/\d+(?=\/|$)/g, "/{id}");
}

/**
 * Gives each request attempt a deadline: the fetch gets an AbortSignal, and the attempt is given up
 * at the deadline even when what hangs is not the fetch itself (an installation token fetched on
 * the way, or a body that stops mid-way), so the caller always hears back within timeoutMs.
 */
function deadlinePlugin(timeoutMs: number): OctokitPlugin {
  return (octokit, options) => {
    const installation = installationOf(options);
    // The signal a caller gave a request, kept apart from the deadlines this hook adds to it.
    const callerSignals = new WeakMap<object, AbortSignal | undefined>();
    octokit.hook.wrap("request", async (request, requestOptions) => {
      const timeout = new GitHubRequestTimeout(
        requestOptions.method,
        routeLabel(requestOptions.url),
        timeoutMs,
        installation,
      );
      if (!callerSignals.has(requestOptions)) {
        callerSignals.set(requestOptions, requestOptions.request?.signal as AbortSignal | undefined);
      }
      const callerSignal = callerSignals.get(requestOptions);
      const deadline = new AbortController();
      // Octokit's hooks share one options object (each inner hook is bound to it; what a hook passes
      // on is ignored), so the signal is set on it. It stays there: an inner hook that reads the
      // options late (the auth hook, after fetching a token) then sends an already-aborted request.
      requestOptions.request = {
        ...requestOptions.request,
        signal: callerSignal ? AbortSignal.any([callerSignal, deadline.signal]) : deadline.signal,
      };
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          // Rejected before the abort, so the race ends with the timeout, not with what the abort makes of the fetch.
          reject(timeout);
          deadline.abort(timeout);
        }, timeoutMs);
      });
      try {
        return await Promise.race([request(requestOptions), expired]);
      } catch (error) {
        // Whatever the aborted fetch threw (an AbortError Octokit labels 500), the deadline is the cause.
        throw deadline.signal.aborted ? timeout : error;
      } finally {
        clearTimeout(timer);
      }
    });
  };
}

/**
 * Counts every request by installation ("app" for the app's own JWT), route template and status,
 * and keeps the rate-limit budget GitHub reports in each response's headers.
 */
function githubMetricsPlugin(metrics: GitHubMetrics): OctokitPlugin {
  return (octokit, options) => {
    const installation = installationOf(options);
    const record = (route: string, status: number | string, headers: Headers | undefined) => {
      metrics.githubRequests.inc({ installation, route, status: String(status) });
      const remaining = Number(headers?.["x-ratelimit-remaining"]);
      if (headers?.["x-ratelimit-remaining"] !== undefined && Number.isFinite(remaining)) {
        const resource = String(headers["x-ratelimit-resource"] ?? "core");
        metrics.githubRateLimitRemaining.set({ installation, resource }, remaining);
      }
    };
    octokit.hook.wrap("request", async (request, requestOptions) => {
      const route = `${requestOptions.method} ${routeLabel(requestOptions.url)}`;
      try {
        const response = await request(requestOptions);
        record(route, response.status, response.headers as Headers);
        return response;
      } catch (error) {
        if (error instanceof GitHubRequestTimeout) {
          record(route, "timeout", undefined);
          throw error;
        }
        const failure = error as { status?: number; response?: { headers?: Headers } };
        record(route, failure.status ?? "error", failure.response?.headers);
        throw error;
      }
    });
  };
}

/**
 * Probot's Octokit with one GitHub budget per installation shared by every process
 * (src/github/budget.ts) instead of Octokit's fixed gap between writes: each request spends its
 * points from its installation's bucket first (the wait counted per installation), and a rate-limit answer pauses that installation's calls in every process for GitHub's
 * retry-after (or until the limit resets) before the request is tried again; a server error is tried again after a short
 * wait (GITHUB_SERVER_ERROR_TRIES). Every attempt has a deadline (timeoutMs, RUNNERHUB_GITHUB_TIMEOUT)
 * and is counted (GitHubMetrics), a timed-out one with status "timeout".
 */
export function createRunnerhubOctokit(deps: {
  budget: GitHubBudget;
  metrics: GitHubMetrics;
  /** Longest wait for one attempt's answer (RUNNERHUB_GITHUB_TIMEOUT). */
  timeoutMs: number;
  log: Logger;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}): typeof ProbotOctokit {
  const { budget, log, now, metrics } = deps;
  const budgeted: OctokitPlugin = (octokit, clientOptions) => {
    const installation = installationOf(clientOptions);
    const observe = async (headers: Headers | undefined) => {
      const limit = rateLimitOf(headers, now());
      if (limit) await budget.observeRateLimit(installation, limit.remaining, limit.untilResetMs);
    };
    octokit.hook.wrap("request", async (request, options) => {
      const call = classifyCall(options.method, options.url);
      if (call.priority !== "runner") {
        const remaining = await budget.belowFloor(installation);
        if (remaining !== undefined) {
          log.warn(
            { method: options.method, url: options.url, installation, remaining },
            "GitHub budget below its floor: call deferred",
          );
          throw new BelowRateLimitFloor(installation, remaining);
        }
      }
      for (let attempt = 1; ; attempt++) {
        const asked = now();
        await budget.take(installation, call);
        const waitedMs = now() - asked;
        if (waitedMs > 0) metrics.githubBudgetWait.inc({ installation }, waitedMs / 1000);
        try {
          const response = await request(options);
          await observe(response.headers as Headers);
          return response;
        } catch (error) {
          if (error instanceof GitHubRequestTimeout) {
            log.warn(
              { method: options.method, url: options.url, installation, timeoutMs: error.timeoutMs, attempt },
              "GitHub request timed out: aborted; the work behind it is tried again",
            );
            throw error;
          }
          await observe((error as { response?: { headers?: Headers } }).response?.headers);
          const backoffMs = backoffAfter(error, now());
          if (backoffMs === undefined) {
            const retryMs = serverErrorBackoff(error, attempt);
            if (retryMs === undefined) throw error;
            log.warn(
              {
                method: options.method,
                url: options.url,
                status: (error as { status?: number }).status,
                retryMs,
                attempt,
              },
              "GitHub server error: request tried again",
            );
            await deps.sleep(retryMs);
            continue;
          }
          if (attempt >= RATE_LIMITED_TRIES) throw error;
          log.warn(
            { method: options.method, url: options.url, backoffMs, attempt },
            "GitHub rate limit: every process pauses this installation's GitHub calls",
          );
          metrics.githubPauses.inc({ installation });
          await budget.pause(installation, backoffMs);
        }
      }
    });
  };
  // A function, not an object: Probot passes throttle options of its own to every client, and an
  // object default would be merged shallowly. Octokit's throttling (a fixed gap per process) is
  // off: the shared budget replaces it. Its retry plugin is off too: the loop above retries
  // server errors without the plugin's per-request scheduler (GITHUB_SERVER_ERROR_TRIES).
  // Plugins wrap in order, the later outside: the counting sees each attempt the budget makes, and
  // each attempt's deadline (innermost) ends as a GitHubRequestTimeout the counting can tell apart.
  return ProbotOctokit.plugin(deadlinePlugin(deps.timeoutMs), githubMetricsPlugin(deps.metrics), budgeted).defaults(
    (options: Record<string, unknown>) => ({
      ...options,
      throttle: { ...(options.throttle as object | undefined), enabled: false },
      retry: { ...(options.retry as object | undefined), enabled: false },
    }),
  );
}
