import { describe, expect, it } from "vitest";
import { planEngineLoss } from "../../../src/lifecycle/engine-loss.js";
import type { EngineBeat } from "../../../src/state/heartbeats.js";
import type { RunnerRecord } from "../../../src/state/runner-store.js";

function beat(engine: string, fields: Partial<EngineBeat> = {}): EngineBeat {
  return { engine, beat: `{"engine":"${engine}"}`, engineId: `${engine}-id`, silent: false, ...fields };
}

function record(name: string, engine: string, engineId?: string): RunnerRecord {
  return {
    name,
    pool: "linux",
    engine,
    ...(engineId === undefined ? {} : { engineId }),
    installationId: 7,
    scope: { kind: "org", org: "acme" },
    githubJobId: 1,
    runnerId: 1,
    containerId: "c",
    state: "busy",
    busyJobId: undefined,
    createdAt: 0,
    completedAt: undefined,
  };
}

describe("planEngineLoss", () => {
  it("gives up a silent engine's runners, never this process's own engine", () => {
    const records = [record("linux-1", "a"), record("linux-2", "b"), record("linux-3", "here")];
    const plan = planEngineLoss([beat("a", { silent: true }), beat("b"), beat("here", { silent: true })], records, {
      engine: "here",
    });
    expect(plan).toEqual({
      kind: "give-up",
      lost: [{ beat: beat("a", { silent: true }), records: [records[0]] }],
      superseded: [],
    });
  });

  it("does nothing when every engine looks silent, this one's included: the clock or Redis is wrong", () => {
    const plan = planEngineLoss([beat("a", { silent: true }), beat("here", { silent: true })], [record("r", "a")], {
      engine: "here",
    });
    expect(plan).toEqual({ kind: "all-silent", engines: ["a", "here"] });
  });

  it("gives up runners recorded under a name another engine (by ID) now beats for", () => {
    const earlier = record("linux-1", "here", "old-id");
    const current = record("linux-2", "here", "here-id");
    const unknown = record("linux-3", "here");
    const plan = planEngineLoss([beat("here"), beat("b")], [earlier, current, unknown], { engine: "here" });
    expect(plan).toEqual({ kind: "give-up", lost: [], superseded: [{ engine: "here", records: [earlier] }] });
  });
});
