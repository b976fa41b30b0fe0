import type { RunnerRecord } from "../../../src/state/runner-store.js";

/** A live runner record of the test pool (installation 7, org acme), for the fields a test cares about. */
export function runnerRecord(name: string, fields: Partial<RunnerRecord> = {}): RunnerRecord {
  return {
    name,
    pool: "linux",
    engine: "test-engine",
    installationId: 7,
    scope: { kind: "org", org: "acme" },
    githubJobId: 1,
    runnerId: undefined,
    containerId: undefined,
    state: "starting",
    busyJobId: undefined,
    createdAt: Date.now(),
    completedAt: undefined,
    ...fields,
  };
}
