import type { Pool } from "../config/pools.js";
import { placementCandidates, runnerResourcesOf, type EngineState } from "../placement/placement.js";
import type { EngineAdmission } from "../slots/admission.js";
import type { EngineDirectory } from "../state/engine-directory.js";
import type { Heartbeats } from "../state/heartbeats.js";
import { MAX_PLACEMENT_HANDOFFS } from "../tunables.js";

/** What placement needs: the engines' published state, their heartbeats, and the admission script. */
export interface PlacementDeps {
  directory: Pick<EngineDirectory, "states" | "markUnplaceable" | "clearUnplaceable">;
  heartbeats: Pick<Heartbeats, "read">;
  heartbeatTimeoutMs: number;
  admission: Pick<EngineAdmission, "admit">;
}

/** Why a worker does not start the runner here: another engine should, or no engine may. */
export type NotPlacedHere =
  | { kind: "elsewhere"; engine: string; eligibleHere: boolean }
  | { kind: "waiting"; reason: "no-engine" | "engine-full" };

/**
 * The engines that may take the pool's runner, when this one is among them; else why not here.
 * Checked before anything is spent on this engine (image pull, slot, registration).
 */
export async function placementCandidatesFor(
  pool: Pool,
  self: string,
  deps: PlacementDeps,
  now: number,
): Promise<{ kind: "candidates"; engines: EngineState[] } | NotPlacedHere> {
  const beats = await deps.heartbeats.read(deps.heartbeatTimeoutMs, []);
  const states = (await deps.directory.states(beats)).map((engine) =>
    // This worker runs, whatever its last beat says.
    engine.name === self ? { ...engine, alive: true } : engine,
  );
  const { eligible, refused } = placementCandidates(states, pool, runnerResourcesOf(pool));
  const [first] = eligible;
  if (first === undefined) {
    await deps.directory.markUnplaceable(pool.name, refused, now);
    return { kind: "waiting", reason: "no-engine" };
  }
  if (!eligible.some((engine) => engine.name === self))
    return { kind: "elsewhere", engine: first.name, eligibleHere: false };
  return { kind: "candidates", engines: eligible };
}

/**
 * Reserves the runner's resources here (it holds a slot of this engine already), unless another
 * candidate suits it better. After MAX_PLACEMENT_HANDOFFS hand-offs the entry is taken by any
 * engine it fits, so demand never circles for long when the preferred engine's worker is slow or gone.
 */
export async function admitHere(
  runner: string,
  pool: Pool,
  self: string,
  candidates: readonly EngineState[],
  handoffs: number,
  deps: PlacementDeps,
): Promise<NotPlacedHere | undefined> {
  const placement = handoffs >= MAX_PLACEMENT_HANDOFFS ? "any" : pool.placement;
  const admitted = await deps.admission.admit(runner, runnerResourcesOf(pool), self, candidates, placement);
  if (admitted.kind === "elsewhere") return { kind: "elsewhere", engine: admitted.engine, eligibleHere: true };
  if (admitted.kind === "engine-full") return { kind: "waiting", reason: "engine-full" };
  await deps.directory.clearUnplaceable(pool.name);
  return undefined;
}
