import { describe, expect, it } from "vitest";
import {
  classifyPullFailure,
  decideImage,
  pullRetryDelayMs,
  PullTally,
  type ImageRecord,
  type PullFailure,
} from "../../../src/images/policy.js";
import { PULL_RETRY_BASE_MS, PULL_RETRY_MAX_MS } from "../../../src/tunables.js";

const NOW = 1_000_000_000;
const REFRESH = 15 * 60_000;

function record(fields: Partial<ImageRecord> = {}): ImageRecord {
  return {
    engine: "e",
    image: "ghcr.io/acme/runner:latest",
    lastPulledAt: undefined,
    seenAt: undefined,
    imageId: undefined,
    pulling: undefined,
    failure: undefined,
    poolImageAt: NOW,
    superseded: [],
    ...fields,
  };
}

function failure(fields: Partial<PullFailure> = {}): PullFailure {
  return {
    kind: "not-found",
    message: "manifest unknown",
    attempts: 1,
    at: NOW - 1000,
    nextRetryAt: NOW + 4000,
    ...fields,
  };
}

const decide = (input: Partial<Parameters<typeof decideImage>[0]>) =>
  decideImage({ policy: "missing", localId: undefined, record: undefined, now: NOW, refreshMs: REFRESH, ...input });

describe("decideImage", () => {
  it("missing: uses a local image, pulls an absent one", () => {
    expect(decide({ localId: "sha256:1" })).toEqual({ kind: "use" });
    expect(decide({})).toEqual({ kind: "pull" });
  });

  it("never: uses a local image, never pulls", () => {
    expect(decide({ policy: "never", localId: "sha256:1" })).toEqual({ kind: "use" });
    expect(decide({ policy: "never" })).toEqual({ kind: "absent-never" });
  });

  it("waits out the backoff of a failed pull, then pulls again", () => {
    const failed = record({ failure: failure() });
    expect(decide({ record: failed })).toEqual({ kind: "wait", until: NOW + 4000, failure: failed.failure });
    expect(decide({ record: failed, now: NOW + 4000 })).toEqual({ kind: "pull" });
    expect(decide({ policy: "never", record: failed })).toMatchObject({ kind: "wait" });
  });

  it("always: re-pulls when the last pull is older than the refresh interval, or on the scheduled refresh", () => {
    const fresh = record({ lastPulledAt: NOW - REFRESH + 1 });
    const stale = record({ lastPulledAt: NOW - REFRESH });
    expect(decide({ policy: "always", localId: "sha256:1", record: fresh })).toEqual({ kind: "use" });
    expect(decide({ policy: "always", localId: "sha256:1", record: stale })).toEqual({ kind: "pull" });
    expect(decide({ policy: "always", localId: "sha256:1", record: undefined })).toEqual({ kind: "pull" });
    expect(decide({ policy: "always", localId: "sha256:1", record: fresh, refresh: true })).toEqual({ kind: "pull" });
    expect(decide({ policy: "missing", localId: "sha256:1", record: stale, refresh: true })).toEqual({ kind: "use" });
  });

  it("always: a failing re-pull keeps runners on the local copy", () => {
    const failing = record({ lastPulledAt: NOW - 2 * REFRESH, failure: failure() });
    expect(decide({ policy: "always", localId: "sha256:1", record: failing, refresh: true })).toEqual({ kind: "use" });
  });
});

describe("pull backoff", () => {
  it("doubles from the base and stays under the cap", () => {
    expect(pullRetryDelayMs(1)).toBe(PULL_RETRY_BASE_MS);
    expect(pullRetryDelayMs(2)).toBe(2 * PULL_RETRY_BASE_MS);
    expect(pullRetryDelayMs(3)).toBe(4 * PULL_RETRY_BASE_MS);
    expect(pullRetryDelayMs(40)).toBe(PULL_RETRY_MAX_MS);
    expect(pullRetryDelayMs(1000)).toBe(PULL_RETRY_MAX_MS);
  });
});

describe("classifyPullFailure", () => {
  it("sorts Docker's messages by what the user has to do", () => {
    expect(classifyPullFailure(404, "manifest for 127.0.0.1:5000/nothing:1 not found: manifest unknown", false)).toBe(
      "not-found",
    );
    expect(classifyPullFailure(undefined, "pull access denied for x, repository does not exist", false)).toBe(
      "unauthorized",
    );
    expect(classifyPullFailure(500, "Head https://ghcr.io/v2/x/manifests/1: unauthorized", false)).toBe("unauthorized");
    expect(classifyPullFailure(500, 'Get "http://127.0.0.1:1/v2/": dial tcp: connection refused', false)).toBe(
      "unreachable",
    );
    expect(classifyPullFailure(undefined, "aborted", true)).toBe("timeout");
    expect(classifyPullFailure(500, "something else entirely", false)).toBe("error");
  });
});

describe("PullTally", () => {
  it("sums layers and bytes from Docker's progress events", () => {
    const tally = new PullTally();
    for (const event of [
      { status: "Pulling from acme/runner", id: "latest" },
      { status: "Pulling fs layer", id: "a" },
      { status: "Pulling fs layer", id: "b" },
      { status: "Already exists", id: "c" },
      { status: "Downloading", id: "a", progressDetail: { current: 100, total: 1000 } },
      { status: "Downloading", id: "b", progressDetail: { current: 50, total: 500 } },
      { status: "Downloading", id: "a", progressDetail: { current: 600, total: 1000 } },
    ]) {
      tally.add(event);
    }
    expect(tally.summary()).toEqual({ layers: 3, layersDone: 1, bytesDone: 650, bytesTotal: 1500 });
    tally.add({ status: "Download complete", id: "a" });
    tally.add({ status: "Pull complete", id: "a" });
    tally.add({ status: "Digest: sha256:abc" });
    expect(tally.summary()).toEqual({ layers: 3, layersDone: 2, bytesDone: 1050, bytesTotal: 1500 });
  });
});
