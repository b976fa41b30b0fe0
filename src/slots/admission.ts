import type { EngineState, RunnerResources } from "../placement/placement.js";
import type { Admission } from "../state/scripts/index.js";
import type { StoreContext } from "../state/store-context.js";

export type { Admission };

/** -1 is the scripts' "no limit". */
const limit = (value: number | undefined) => (value === undefined ? -1 : value);

/**
 * Reserves a runner's memory and CPUs on its engine, atomically across processes, and checks its
 * placement against the other candidate engines in the same step (admit-runner.lua).
 */
export class EngineAdmission {
  constructor(private readonly store: StoreContext) {}

  /**
   * Admits `runner` (which already holds a slot of `self`) on `self`, one of `candidates`; with
   * placement "any" the others are not looked at.
   */
  async admit(
    runner: string,
    need: RunnerResources,
    self: string,
    candidates: readonly EngineState[],
    placement: "spread" | "pack" | "any",
  ): Promise<{ kind: Admission; engine: string }> {
    const { keys } = this.store;
    const index = candidates.findIndex((engine) => engine.name === self);
    if (index < 0) throw new Error(`engine "${self}" is not among the candidates it admits for`);
    const keyList = candidates.flatMap((engine) => [
      keys.slots("engine", engine.name),
      keys.engineReserved(engine.name),
    ]);
    const args = candidates.flatMap((engine) => [
      engine.name,
      limit(engine.capacity),
      Math.floor(engine.memoryBytes),
      Math.floor(engine.cpus * 1000),
    ]);
    const [kind, engine] = await this.store.redis.runnerhubAdmitRunner(
      keyList.length,
      ...keyList,
      runner,
      Math.floor(need.memoryBytes),
      Math.round((need.cpus ?? 0) * 1000),
      placement,
      index + 1,
      ...args,
    );
    return { kind, engine };
  }
}
