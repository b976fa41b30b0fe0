import { describe, expect, it } from "vitest";
import { covers, matchDemand, recordReach } from "../../../src/pools/coverage.js";
import { runnerRecord } from "../support/runners.js";

const job = (id: number, owner: string, repo: string, size?: string) => ({ id, owner, repo, size, queuedAt: id });
const org = (name: string) => ({ kind: "org" as const, org: name });
const repo = (owner: string, name: string) => ({ kind: "repo" as const, owner, repo: name });

describe("which waiting jobs a runner can take", () => {
  it("an organization's runner takes its organization's jobs only, a repository's runner its repository's", () => {
    expect(covers({ scope: org("Acme") }, job(1, "acme", "app"))).toBe(true);
    expect(covers({ scope: org("acme") }, job(1, "globex", "app"))).toBe(false);
    expect(covers({ scope: repo("acme", "App") }, job(1, "Acme", "app"))).toBe(true);
    expect(covers({ scope: repo("acme", "app") }, job(1, "acme", "web"))).toBe(false);
    expect(covers(undefined, job(1, "acme", "app"))).toBe(false);
  });

  it("a sized job needs a runner of its size; an unsized job takes any", () => {
    expect(covers({ scope: org("acme"), size: "Large" }, job(1, "acme", "app", "large"))).toBe(true);
    expect(covers({ scope: org("acme") }, job(1, "acme", "app", "large"))).toBe(false);
    expect(covers({ scope: org("acme"), size: "small" }, job(1, "acme", "app", "large"))).toBe(false);
    expect(covers({ scope: org("acme"), size: "large" }, job(1, "acme", "app"))).toBe(true);
  });

  it("reads a fair-share pool's runner as its repository's, any other as its registration scope", () => {
    const record = runnerRecord("r", { scope: org("acme"), repository: "acme/app", size: "large" });
    expect(recordReach({ perRepository: undefined }, record)).toEqual({ scope: org("acme"), size: "large" });
    expect(recordReach({ perRepository: { maxRunners: 1 } }, record)).toEqual({
      scope: repo("acme", "app"),
      size: "large",
    });
    expect(recordReach({ perRepository: { maxRunners: 1 } }, { ...record, repository: undefined })).toBeUndefined();
  });
});

describe("matchDemand", () => {
  const reachOf = (record: { scope: ReturnType<typeof org> | ReturnType<typeof repo> }) => ({ scope: record.scope });

  it("never counts one organization's idle runner for another organization's job", () => {
    const { unserved, claimed } = matchDemand([job(1, "globex", "app")], [{ scope: org("acme") }], reachOf);
    expect(unserved.map((item) => item.id)).toEqual([1]);
    expect(claimed.size).toBe(0);
  });

  it("lets a repository's runner claim before its organization's, so both jobs are covered", () => {
    const orgRunner = { scope: org("acme") };
    const repoRunner = { scope: repo("acme", "web") };
    const { unserved, claimed } = matchDemand(
      [job(1, "acme", "web"), job(2, "acme", "app")],
      [orgRunner, repoRunner],
      reachOf,
    );
    expect(unserved).toEqual([]);
    expect([...claimed]).toEqual([repoRunner, orgRunner]);
  });

  it("leaves the oldest jobs unserved, oldest first", () => {
    const jobs = [job(3, "acme", "a"), job(1, "acme", "a"), job(2, "acme", "a")];
    const { unserved } = matchDemand(jobs, [{ scope: org("acme") }], reachOf);
    expect(unserved.map((item) => item.id)).toEqual([1, 2]);
  });
});
