import type { Logger } from "pino";
import { ProbotOctokit } from "probot";
import { backoffAfter, classifyCall, type GitHubBudget } from "./budget.js";

/** Tries of one request that GitHub answers with a rate limit, the first included. */
const RATE_LIMITED_TRIES = 3;

/** Probot's own retries, minus 429: a rate limit is this module's to wait out, with every process. */
const DO_NOT_RETRY = [400, 401, 403, 404, 410, 422, 429, 451];

/**
 * Probot's Octokit with one GitHub budget shared by every process (src/github/budget.ts) instead
 * of Octokit's fixed gap between writes: each request spends its points from the shared bucket
 * first, and a rate-limit answer pauses every process for GitHub's retry-after (or until the
 * limit resets) before the request is tried again.
 */
export function createRunnerhubOctokit(deps: {
  budget: GitHubBudget;
  log: Logger;
  now: () => number;
}): typeof ProbotOctokit {
  const { budget, log, now } = deps;
  const budgeted = (octokit: Pick<InstanceType<typeof ProbotOctokit>, "hook">) => {
    octokit.hook.wrap("request", async (request, options) => {
      const call = classifyCall(options.method, options.url);
      for (let attempt = 1; ; attempt++) {
        await budget.take(call);
        try {
          return await request(options);
        } catch (error) {
          const backoffMs = backoffAfter(error, now());
          if (backoffMs === undefined || attempt >= RATE_LIMITED_TRIES) throw error;
          log.warn(
            { method: options.method, url: options.url, backoffMs, attempt },
            "GitHub rate limit: every process pauses its GitHub calls",
          );
          await budget.pause(backoffMs);
        }
      }
    });
  };
  // A function, not an object: Probot passes throttle options of its own to every client, and an
  // object default would be merged shallowly. Octokit's throttling (a fixed gap per process) is
  // off: the shared budget replaces it.
  return ProbotOctokit.plugin(budgeted).defaults((options: Record<string, unknown>) => ({
    ...options,
    throttle: { ...(options.throttle as object | undefined), enabled: false },
    retry: { ...(options.retry as object | undefined), doNotRetry: DO_NOT_RETRY },
  }));
}
