import type { ContainerEngine } from "../docker/engine.js";
import type { RunnerStore } from "../state/runner-store.js";

/** How long a runner gets to finish after SIGTERM before Docker kills it. */
const STOP_GRACE_SECONDS = 10;

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
