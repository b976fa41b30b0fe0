import type { ContainerExit } from "../docker/engine.js";

export type ExitReason = "completed" | "oom-killed" | "crashed" | "gone";

/** Why a runner container ended, from what Docker reports about it. */
export function exitReason(exit: ContainerExit | undefined): ExitReason {
  if (!exit) return "gone";
  if (exit.oomKilled) return "oom-killed";
  return exit.exitCode === 0 ? "completed" : "crashed";
}
