import type { ContainerImageUse } from "./image-engine.js";
import type { ImageRecord } from "./policy.js";

/** A tracked image as the engine has it now. */
export interface TrackedImage {
  record: ImageRecord;
  /** The id the reference points at on the engine now; undefined when the engine lacks it. */
  localId: string | undefined;
}

export type ImageGcStep =
  /** Remove a reference runnerhub pulled that no pool names any more. */
  | { kind: "remove-reference"; image: string }
  /** Remove an image id a re-pull moved the reference away from (it dangles now). */
  | { kind: "remove-superseded"; image: string; id: string }
  /** Stop tracking: the engine no longer has it, or it is not runnerhub's to remove. */
  | { kind: "forget"; image: string }
  | { kind: "forget-superseded"; image: string; id: string };

/**
 * Which runner images of one engine to remove. Only images runnerhub itself pulled are ever
 * candidates (a local build or a pre-loaded image is the operator's); an image a pool names, or
 * that any container on the engine was made from (running or not, runnerhub's or not), stays;
 * the rest goes once `ageMs` has passed since a pool last named it (or since a re-pull superseded it).
 */
export function planImageGc(input: {
  tracked: readonly TrackedImage[];
  poolImages: ReadonlySet<string>;
  containers: readonly ContainerImageUse[];
  now: number;
  ageMs: number;
}): ImageGcStep[] {
  const usedRefs = new Set(input.containers.map((use) => use.image));
  const usedIds = new Set(input.containers.map((use) => use.imageId));
  const inUse = (image: string, id: string | undefined) =>
    usedRefs.has(image) || (id !== undefined && (usedIds.has(id) || usedRefs.has(id)));
  const steps: ImageGcStep[] = [];
  for (const { record, localId } of input.tracked) {
    for (const old of record.superseded) {
      if (old.id === localId) {
        steps.push({ kind: "forget-superseded", image: record.image, id: old.id });
      } else if (input.now - old.at >= input.ageMs && !inUse(old.id, old.id)) {
        steps.push({ kind: "remove-superseded", image: record.image, id: old.id });
      }
    }
    if (input.poolImages.has(record.image)) continue;
    if (localId === undefined || record.lastPulledAt === undefined) {
      if (record.superseded.length === 0) steps.push({ kind: "forget", image: record.image });
      continue;
    }
    if (input.now - record.poolImageAt < input.ageMs || inUse(record.image, localId)) continue;
    steps.push({ kind: "remove-reference", image: record.image });
  }
  return steps;
}
