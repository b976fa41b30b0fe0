import type { ContainerExit } from "./engine.js";

export type ExitReason = "completed" | "oom-killed" | "crashed" | "never-started" | "gone";

/** Why a runner container ended, from what Docker reports about it (undefined: already removed). */
export function exitReason(exit: ContainerExit | undefined): ExitReason {
  if (!exit) return "gone";
  if (exit.neverStarted) return "never-started";
  if (exit.oomKilled) return "oom-killed";
  return exit.exitCode === 0 ? "completed" : "crashed";
}
