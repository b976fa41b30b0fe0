import { describe, expect, it } from "vitest";
import {
  repositoryDemand,
  repositoryOf,
  repositoryShares,
  runnerScope,
  unservedByRepository,
} from "../../../src/pools/fair-share.js";
import type { ProvisionRequest } from "../../../src/queue/jobs.js";
import { runnerRecord } from "../support/runners.js";

function job(id: number, repo: string, queuedAt: number): ProvisionRequest {
  return {
    githubJobId: id,
    runId: id,
    owner: "Acme",
    repo,
    installationId: 7,
    scope: { kind: "repo", owner: "Acme", repo },
    labels: ["self-hosted"],
    pool: "shared",
    queuedAt,
  };
}

const free = (repository: string) => runnerRecord(`r-${repository}-${Math.random()}`, { pool: "shared", repository });

describe("fair share decisions", () => {
  it("names repositories in lower case, as GitHub compares them", () => {
    expect(repositoryOf({ owner: "Acme", repo: "App" })).toBe("acme/app");
  });

  it("registers a fair-share pool's runner at the job's repository, whatever scope the demand came with", () => {
    const orgJob = { ...job(1, "app", 1), scope: { kind: "org" as const, org: "Acme" } };
    expect(runnerScope({ perRepository: { maxRunners: 2 } }, orgJob)).toEqual({
      kind: "repo",
      owner: "Acme",
      repo: "app",
    });
    expect(runnerScope({ perRepository: undefined }, orgJob)).toEqual({ kind: "org", org: "Acme" });
  });

  it("weighs a repository's waiting jobs against its own free runners only", () => {
    const waiting = [job(1, "a", 1), job(2, "a", 2), job(3, "b", 3)];
    expect(repositoryDemand("acme/a", waiting, [free("Acme/b"), free("Acme/b")])).toEqual({ waiting: 2, free: 0 });
    expect(repositoryDemand("acme/b", waiting, [free("Acme/b")])).toEqual({ waiting: 1, free: 1 });
  });

  it("re-provisions as many of each repository's oldest jobs as its free runners lack, never hiding one behind another's idle runner", () => {
    const waiting = [job(4, "a", 40), job(1, "a", 10), job(2, "b", 20), job(3, "a", 30), job(5, "b", 50)];
    // Two idle runners of acme/b: counted across the pool they would cover two of acme/a's jobs.
    const unserved = unservedByRepository(waiting, [free("Acme/b"), free("Acme/b"), free("Acme/a")]);
    expect(unserved.map((request) => request.githubJobId)).toEqual([1, 3]);
  });

  it("shows every repository holding a slot or waiting, by name", () => {
    const rows = repositoryShares(
      [
        { repository: "acme/b", slots: 1, parked: 0 },
        { repository: "acme/a", slots: 3, parked: 2 },
      ],
      [job(1, "a", 1), job(2, "a", 2), job(3, "c", 3)],
    );
    expect(rows).toEqual([
      { repository: "acme/a", running: 3, waiting: 2, parked: 2 },
      { repository: "acme/b", running: 1, waiting: 0, parked: 0 },
      { repository: "acme/c", running: 0, waiting: 1, parked: 0 },
    ]);
  });
});
