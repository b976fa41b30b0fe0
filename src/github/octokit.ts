import Bottleneck from "bottleneck";
import { ProbotOctokit } from "probot";

/**
 * Probot's Octokit (retries, rate-limit handling) with room for bursts of runner registrations.
 * Octokit spaces writes one second apart by default; GitHub's secondary limit for one endpoint is
 * 900 points a minute at 5 points a POST, so one write every 334 ms stays within it while letting
 * a burst of 50 queued jobs get their JIT configs three times faster.
 */
export function createRunnerhubOctokit(): typeof ProbotOctokit {
  const write = new Bottleneck.Group({ id: "runnerhub-write", maxConcurrent: 3, minTime: 334 });
  // A function, not an object: Probot passes throttle options of its own to every client, and an
  // object default would be merged shallowly and lose the write limiter.
  return ProbotOctokit.defaults((options: Record<string, unknown>) => ({
    ...options,
    throttle: { ...(options.throttle as object | undefined), write },
  }));
}
