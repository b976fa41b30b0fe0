import type { ContainerEngine } from "../docker/engine.js";
import type { RunnerStore } from "../state/runner-store.js";
import { STOP_GRACE_SECONDS } from "../tunables.js";

/**
 * Takes a runner container down on purpose. The reason goes on the record first, so the exit
 * watcher, which cleans up after the `die` event, records why the runner went away.
 */
export async function stopRunner(
  deps: { runners: RunnerStore; engine: ContainerEngine },
  runnerName: string,
  containerId: string,
  reason: string,
): Promise<void> {
  await deps.runners.update(runnerName, { retiring: reason });
  await deps.engine.stop(containerId, STOP_GRACE_SECONDS);
}
