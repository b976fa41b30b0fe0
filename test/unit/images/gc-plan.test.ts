import { describe, expect, it } from "vitest";
import { planImageGc, type TrackedImage } from "../../../src/images/gc-plan.js";
import type { ImageRecord } from "../../../src/images/policy.js";

const NOW = 10_000_000_000;
const AGE = 24 * 3600_000;

/** A record runnerhub pulled two ages ago, last named by a pool one age ago; `absent`: the engine lacks it. */
function tracked(image: string, fields: Partial<ImageRecord> = {}, absent = false): TrackedImage {
  const localId = absent ? undefined : `id-${image}`;
  return {
    localId,
    record: {
      engine: "e",
      image,
      lastPulledAt: NOW - 2 * AGE,
      seenAt: undefined,
      imageId: localId,
      pulling: undefined,
      failure: undefined,
      poolImageAt: NOW - AGE,
      superseded: [],
      ...fields,
    },
  };
}

const plan = (input: Partial<Parameters<typeof planImageGc>[0]>) =>
  planImageGc({ tracked: [], poolImages: new Set(), containers: [], now: NOW, ageMs: AGE, ...input });

describe("planImageGc", () => {
  it("removes a pulled image no pool has named for the age", () => {
    expect(plan({ tracked: [tracked("old:1")] })).toEqual([{ kind: "remove-reference", image: "old:1" }]);
  });

  it("keeps an image a pool names, however old", () => {
    expect(plan({ tracked: [tracked("pool:1")], poolImages: new Set(["pool:1"]) })).toEqual([]);
  });

  it("keeps an image until the age has passed since a pool last named it", () => {
    expect(plan({ tracked: [tracked("young:1", { poolImageAt: NOW - AGE + 1 })] })).toEqual([]);
  });

  it("keeps an image any container was made from, by reference or by id, running or not", () => {
    const byRef = tracked("used:1");
    const byId = tracked("used:2");
    expect(
      plan({
        tracked: [byRef, byId],
        containers: [
          { image: "used:1", imageId: "sha256:other" },
          { image: "sha256:whatever", imageId: "id-used:2" },
        ],
      }),
    ).toEqual([]);
  });

  it("never removes an image runnerhub did not pull, and forgets ones the engine no longer has", () => {
    expect(plan({ tracked: [tracked("loaded:1", { lastPulledAt: undefined, seenAt: NOW - 2 * AGE })] })).toEqual([
      { kind: "forget", image: "loaded:1" },
    ]);
    expect(plan({ tracked: [tracked("gone:1", {}, true)] })).toEqual([{ kind: "forget", image: "gone:1" }]);
  });

  it("removes ids a re-pull superseded once unused and old enough, and forgets one the tag points at again", () => {
    const moving = tracked("runner:latest", {
      superseded: [
        { id: "sha256:old", at: NOW - AGE },
        { id: "sha256:recent", at: NOW - 1 },
        { id: "sha256:busy", at: NOW - AGE },
        { id: "id-runner:latest", at: NOW - AGE },
      ],
    });
    expect(
      plan({
        tracked: [moving],
        poolImages: new Set(["runner:latest"]),
        containers: [{ image: "runner:latest", imageId: "sha256:busy" }],
      }),
    ).toEqual([
      { kind: "remove-superseded", image: "runner:latest", id: "sha256:old" },
      { kind: "forget-superseded", image: "runner:latest", id: "id-runner:latest" },
    ]);
  });
});
