import type { PullEvent } from "./image-engine.js";
import { PULL_RETRY_BASE_MS, PULL_RETRY_MAX_MS } from "../tunables.js";

export type PullPolicy = "missing" | "always" | "never";

/** Why a pull failed, as the log, the admin API and the failure metric name it. */
export type PullFailureKind = "not-found" | "unauthorized" | "unreachable" | "timeout" | "not-on-engine" | "error";

export interface PullFailure {
  kind: PullFailureKind;
  /** The registry's or engine's message (never holds credentials: Docker does not echo them). */
  message: string;
  /** Failed attempts in a row. */
  attempts: number;
  at: number;
  nextRetryAt: number;
  /**
   * The registry credentials entry the failed pull used ("" for none): a failure with one entry
   * (bad credentials) never makes pools that pull the image with another entry wait.
   */
  credentials?: string;
}

/** What runnerhub knows about one image on one engine. */
export interface ImageRecord {
  engine: string;
  image: string;
  /** Last successful pull by runnerhub on this engine. */
  lastPulledAt: number | undefined;
  /** When the engine was last seen to have the image without a pull (a pre-loaded or earlier image). */
  seenAt: number | undefined;
  /** Local image id after that pull. */
  imageId: string | undefined;
  /** A pull in progress (by any process) and when its lease runs out. */
  pulling: { since: number; until: number } | undefined;
  failure: PullFailure | undefined;
  /** Last time a pool of this installation named the image (the clean-up age starts here). */
  poolImageAt: number;
  /** Ids this reference pointed at before a re-pull moved it, and since when (dangling clean-up). */
  superseded: { id: string; at: number }[];
}

export type ImageDecision =
  { kind: "use" } | { kind: "pull" } | { kind: "wait"; until: number; failure: PullFailure } | { kind: "absent-never" };

/**
 * Before a runner is made: use the local image, pull it, or wait out the backoff of a failed
 * pull. `always` re-pulls a local image once its last pull is older than refreshMs (the scheduled
 * refresh usually gets there first); a failing re-pull never stops runners using the local copy.
 */
export function decideImage(input: {
  policy: PullPolicy;
  localId: string | undefined;
  record: ImageRecord | undefined;
  now: number;
  refreshMs: number;
  /** The scheduled refresh: `always` images are pulled whatever their age. */
  refresh?: boolean;
}): ImageDecision {
  const { policy, localId, record, now } = input;
  const failure = record?.failure;
  const backingOff = failure !== undefined && failure.nextRetryAt > now;
  if (localId === undefined) {
    if (backingOff) return { kind: "wait", until: failure.nextRetryAt, failure };
    return policy === "never" ? { kind: "absent-never" } : { kind: "pull" };
  }
  if (policy !== "always" || backingOff) return { kind: "use" };
  const lastPulledAt = record?.lastPulledAt;
  const fresh = lastPulledAt !== undefined && now - lastPulledAt < input.refreshMs;
  return fresh && !input.refresh ? { kind: "use" } : { kind: "pull" };
}

/** Exponential backoff for the nth failed pull in a row (1-based): 5 s, 10 s, 20 s … 5 min. */
export function pullRetryDelayMs(attempts: number): number {
  return Math.min(PULL_RETRY_BASE_MS * 2 ** Math.max(0, attempts - 1), PULL_RETRY_MAX_MS);
}

/** Sorts a failed pull by what the user has to do about it. */
export function classifyPullFailure(
  statusCode: number | undefined,
  message: string,
  timedOut: boolean,
): PullFailureKind {
  if (timedOut) return "timeout";
  const text = message.toLowerCase();
  if (statusCode === 401 || statusCode === 403 || /unauthorized|authentication required|denied|forbidden/.test(text)) {
    return "unauthorized";
  }
  if (statusCode === 404 || /not found|manifest unknown|does not exist|name unknown/.test(text)) return "not-found";
  if (/connection refused|no such host|i\/o timeout|timeout|tls|eof|unreachable|503|502/.test(text)) {
    return "unreachable";
  }
  return "error";
}

export interface PullSummary {
  layers: number;
  layersDone: number;
  /** Bytes downloaded and the total of the layers whose size is known so far. */
  bytesDone: number;
  bytesTotal: number;
}

/** Folds Docker's pull progress events, one at a time, into a summary (layers, bytes). */
export class PullTally {
  private readonly layers = new Map<string, { current: number; total: number; done: boolean }>();

  add(event: PullEvent): void {
    // Events without a layer id are about the image as a whole ("Digest: …", "Status: …").
    if (event.id === undefined || event.status === undefined || event.status.startsWith("Pulling from")) return;
    const layer = this.layers.get(event.id) ?? { current: 0, total: 0, done: false };
    if (event.status === "Downloading") {
      layer.current = event.progressDetail?.current ?? layer.current;
      layer.total = event.progressDetail?.total ?? layer.total;
    } else if (event.status === "Download complete") {
      layer.current = layer.total;
    } else if (event.status === "Pull complete" || event.status === "Already exists") {
      layer.current = layer.total;
      layer.done = true;
    }
    this.layers.set(event.id, layer);
  }

  summary(): PullSummary {
    let layersDone = 0;
    let bytesDone = 0;
    let bytesTotal = 0;
    for (const layer of this.layers.values()) {
      if (layer.done) layersDone++;
      bytesDone += layer.current;
      bytesTotal += layer.total;
    }
    return { layers: this.layers.size, layersDone, bytesDone, bytesTotal };
  }
}
