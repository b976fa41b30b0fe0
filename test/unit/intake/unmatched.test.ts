import { describe, expect, it } from "vitest";
import { unmatchedJob } from "../../../src/intake/unmatched.js";
import type { WorkflowJobEvent } from "../../../src/intake/demand.js";
import { pool } from "../support/pools.js";

const pools = [
  pool({ name: "linux", labels: ["self-hosted", "linux"], sizes: [{ label: "size-large", resources: {} }] }),
  pool({ name: "gpu", labels: ["self-hosted", "linux", "gpu"] }),
];

function event(labels: string[]): WorkflowJobEvent {
  return {
    action: "queued",
    workflow_job: { id: 42, run_id: 7, run_attempt: 1, name: "build", labels, created_at: "2026-01-01T00:00:00Z" },
    repository: { name: "app", owner: { login: "acme" } },
    installation: { id: 1 },
  };
}

describe("unmatchedJob", () => {
  it("names the nearest pool and what it lacks for a job with labels", () => {
    expect(unmatchedJob(event(["self-hosted", "linux", "size-xl"]), "no-matching-pool", pools, 5)).toEqual({
      jobId: 42,
      repository: "acme/app",
      labels: ["self-hosted", "linux", "size-xl"],
      reason: "no-matching-pool",
      nearestPool: "linux",
      missing: ["size-xl"],
      at: 5,
    });
  });

  it("keeps a label-less job with its reason and no nearest pool", () => {
    expect(unmatchedJob(event([]), "no-labels", pools, 5)).toEqual({
      jobId: 42,
      repository: "acme/app",
      labels: [],
      reason: "no-labels",
      missing: [],
      at: 5,
    });
  });

  it("keeps nothing of jobs meant for GitHub-hosted runners or from no installation", () => {
    expect(unmatchedJob(event(["ubuntu-latest"]), "not-self-hosted", pools, 5)).toBeUndefined();
    expect(unmatchedJob(event(["self-hosted"]), "no-installation", pools, 5)).toBeUndefined();
  });
});
