import type { Logger } from "pino";
import type { ContainerEngine } from "../docker/engine.js";
import type { RunnersApi } from "../github/runners-api.js";
import { runnerLogFields } from "../pools/runner-names.js";
import type { RunnerStore } from "../state/runner-store.js";
import type { ReconcileAction } from "./reconcile-plan.js";
import { stopRunner } from "./stop-runner.js";

/**
 * Takes down an idle runner the pool no longer needs (the reconciler's decision). Deleting the
 * registration first is what makes retiring safe: GitHub refuses to delete a runner that has just
 * taken a job, and then the runner stays, marked busy.
 */
export async function retireRunner(
  deps: { engine: ContainerEngine; runners: RunnerStore; github: RunnersApi; log: Logger },
  action: Extract<ReconcileAction, { kind: "retire" }>,
): Promise<void> {
  if ((await deps.github.deleteRunner(action.target, action.runnerId)) === "busy") {
    deps.log.info(runnerLogFields(action.runnerName), "runner took a job while being retired; kept");
    await deps.runners.update(action.runnerName, { state: "busy" });
    return;
  }
  deps.log.info({ ...runnerLogFields(action.runnerName), reason: action.reason }, "retiring idle runner");
  await stopRunner(deps, action.runnerName, action.containerId, action.reason);
}
