import type { ContainerExit } from "./engine.js";

export type ExitReason = "completed" | "oom-killed" | "crashed" | "never-started" | "gone" | "runner-outdated";

/** Why a runner container ended, from what Docker reports about it (undefined: already removed). */
export function exitReason(exit: ContainerExit | undefined): ExitReason {
  if (!exit) return "gone";
  if (exit.neverStarted) return "never-started";
  if (exit.oomKilled) return "oom-killed";
  return exit.exitCode === 0 ? "completed" : "crashed";
}

/**
 * What GitHub's runner prints when the service refuses its version (actions/runner,
 * src/Sdk/WebApi/WebApi/BrokerHttpClient.cs: "Runner version v{runnerVersion} is deprecated and
 * cannot receive messages."; the listener prints it after "An error occured: ").
 */
const VERSION_REFUSED = /Runner version v?\d[\w.+-]* is deprecated and cannot receive messages/;

/**
 * The exit reason once the runner's last lines are read: a runner GitHub refused for its version
 * is `runner-outdated` whatever its exit code. run-helper.sh turns the listener's "terminated
 * error" into exit 0 (exit 7 with ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE=1), so the
 * code alone reads as a finished job, and a new runner from the same image would be refused again.
 */
export function classifyExit(observed: ExitReason, lastLines: string | undefined): ExitReason {
  if (observed !== "completed" && observed !== "crashed") return observed;
  return lastLines !== undefined && VERSION_REFUSED.test(lastLines) ? "runner-outdated" : observed;
}

/** What an operator does about a pool whose runners GitHub refuses for their version. */
export const RUNNER_OUTDATED_FIX =
  "GitHub refuses this runner version (more than 30 days behind the newest release): use a newer image (a current actions-runner tag) and set pull: always on the pool so moving tags are re-pulled; then reset the crash loop";
