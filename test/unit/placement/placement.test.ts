import { describe, expect, it } from "vitest";
import {
  ineligibility,
  placementCandidates,
  runnerResourcesOf,
  type EngineState,
  type PlacementRule,
} from "../../../src/placement/placement.js";

const GIB = 1024 ** 3;

function engine(name: string, fields: Partial<EngineState> = {}): EngineState {
  return {
    name,
    alive: true,
    draining: false,
    labels: [],
    memoryBytes: 8 * GIB,
    cpus: 4,
    capacity: undefined,
    ...fields,
  };
}

const ANY: PlacementRule = { engines: { labels: [] }, placement: "spread" };
const GPU: PlacementRule = { engines: { labels: ["gpu"] }, placement: "spread" };
const NEED = { memoryBytes: 2 * GIB, cpus: 1 };

describe("placement", () => {
  it("takes a runner's resources from its pool (no CPUs when the pool sets none)", () => {
    expect(runnerResourcesOf({ resources: { memory: GIB, cpus: 2 } })).toEqual({ memoryBytes: GIB, cpus: 2 });
    expect(runnerResourcesOf({ resources: { memory: GIB } })).toEqual({ memoryBytes: GIB, cpus: undefined });
  });

  it("refuses silent, drained, unlabelled and too small engines, in that order", () => {
    expect(ineligibility(engine("a"), ANY, NEED)).toBeUndefined();
    expect(ineligibility(engine("a", { alive: false, draining: true }), ANY, NEED)).toBe("silent");
    expect(ineligibility(engine("a", { draining: true }), GPU, NEED)).toBe("draining");
    expect(ineligibility(engine("a", { labels: ["ssd"] }), GPU, NEED)).toBe("labels");
    expect(ineligibility(engine("a", { labels: ["ssd", "gpu"] }), GPU, NEED)).toBeUndefined();
    expect(ineligibility(engine("a", { memoryBytes: GIB }), ANY, NEED)).toBe("too-small");
    expect(ineligibility(engine("a", { cpus: 0.5 }), ANY, NEED)).toBe("too-small");
    expect(ineligibility(engine("a", { cpus: 0.5 }), ANY, { memoryBytes: GIB, cpus: undefined })).toBeUndefined();
  });

  it("lists the eligible engines by name and why each other one is refused", () => {
    const engines = [
      engine("c", { labels: ["gpu"] }),
      engine("b", { draining: true }),
      engine("a"),
      engine("d", { labels: ["gpu"] }),
    ];
    expect(placementCandidates(engines, GPU, NEED)).toEqual({
      eligible: [engines[0], engines[3]],
      refused: [
        { engine: "a", reason: "labels" },
        { engine: "b", reason: "draining" },
      ],
    });
    expect(placementCandidates([engine("a", { alive: false })], ANY, NEED).eligible).toEqual([]);
  });
});
