import { describe, expect, it } from "vitest";
import { demandFor, type WorkflowJobEvent } from "../../../src/intake/demand.js";
import { pool } from "../support/pools.js";

const pools = [
  pool({ name: "linux", labels: ["self-hosted", "linux"], oomRetryPool: "linux-big" }),
  pool({ name: "linux-big", labels: ["self-hosted", "linux", "big"] }),
  pool({ name: "gpu", labels: ["self-hosted", "gpu"] }),
];
const NOW = Date.parse("2026-11-29T10:00:05Z");

function event(overrides: Partial<WorkflowJobEvent> = {}, labels = ["self-hosted", "linux"]): WorkflowJobEvent {
  return {
    workflow_job: {
      id: 55,
      run_id: 5,
      run_attempt: 1,
      name: "build",
      labels,
      created_at: "2026-11-29T10:00:00Z",
      runner_name: null,
    },
    repository: { name: "app", owner: { login: "acme" } },
    organization: { login: "acme" },
    installation: { id: 7 },
    ...overrides,
  };
}

describe("demandFor", () => {
  it("asks for an org runner when the job belongs to an organization", () => {
    expect(demandFor(event(), pools, NOW)).toEqual({
      kind: "provision",
      request: {
        githubJobId: 55,
        runId: 5,
        owner: "acme",
        repo: "app",
        installationId: 7,
        scope: { kind: "org", org: "acme" },
        labels: ["self-hosted", "linux"],
        pool: "linux",
        queuedAt: Date.parse("2026-11-29T10:00:00Z"),
        // The webhook's arrival: the delivery delay is enqueuedAt - queuedAt.
        enqueuedAt: NOW,
      },
    });
  });

  it("asks a fair-share pool for a runner registered at the job's repository, even in an organization", () => {
    const fair = [pool({ name: "shared", labels: ["self-hosted", "linux"], perRepository: { maxRunners: 2 } })];
    const demand = demandFor(event(), fair, NOW);
    expect(demand.kind === "provision" && demand.request.scope).toEqual({ kind: "repo", owner: "acme", repo: "app" });
  });

  it("asks for a repo runner for a user's repository", () => {
    const demand = demandFor(event({ organization: undefined }), pools, NOW);
    expect(demand.kind === "provision" && demand.request.scope).toEqual({ kind: "repo", owner: "acme", repo: "app" });
  });

  it("ignores unmatched labels and events without an installation", () => {
    expect(demandFor(event({}, ["self-hosted", "windows"]), pools, NOW)).toEqual({
      kind: "ignore",
      reason: "no-matching-pool",
    });
    expect(demandFor(event({ installation: null }), pools, NOW)).toEqual({ kind: "ignore", reason: "no-installation" });
  });

  it("never dates demand in the future, whatever GitHub's clock says", () => {
    const demand = demandFor(
      event({ workflow_job: { ...event().workflow_job, created_at: "2030-01-01T00:00:00Z" } }),
      pools,
      NOW,
    );
    expect(demand.kind === "provision" && demand.request.queuedAt).toBe(NOW);
  });

  it("sends a job to the pool runnerhub chose for it when that pool carries its labels", () => {
    const routed = (pool: string | undefined) => {
      const demand = demandFor(event(), pools, NOW, pool);
      return demand.kind === "provision" ? demand.request.pool : demand.reason;
    };
    expect(routed("linux-big")).toBe("linux-big");
    expect(routed(undefined)).toBe("linux");
    // A chosen pool that lacks a label of the job, or is gone, gives way to label matching.
    expect(routed("gpu")).toBe("linux");
    expect(routed("removed")).toBe("linux");
  });
});
