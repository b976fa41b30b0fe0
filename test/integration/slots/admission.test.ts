import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { EngineState, RunnerResources } from "../../../src/placement/placement.js";
import { EngineAdmission } from "../../../src/slots/admission.js";
import { serviceContext, type ServiceContext } from "../support/context.js";

let ctx: ServiceContext;
let admission: EngineAdmission;

beforeAll(async () => {
  ctx = await serviceContext();
  admission = new EngineAdmission(ctx.store);
});

afterEach(async () => {
  await ctx.flushPrefix();
});

afterAll(async () => {
  await ctx.close();
});

const GIB = 1024 ** 3;
const RUNNER = { memoryBytes: GIB, cpus: 1 };

function engine(name: string, fields: Partial<EngineState> = {}): EngineState {
  return {
    name,
    alive: true,
    draining: false,
    labels: [],
    memoryBytes: 4 * GIB,
    cpus: 8,
    capacity: undefined,
    ...fields,
  };
}

/** A runner takes its engine slot (as take-slot.lua does first), then asks to be admitted there. */
async function admit(
  runner: string,
  self: string,
  candidates: EngineState[],
  placement: "spread" | "pack" | "any",
  need: RunnerResources = RUNNER,
) {
  await ctx.slots
    .forEngine({ name: self, capacity: undefined }, 60_000)
    .reserve({ name: "linux", maxRunners: 100 }, runner);
  const result = await admission.admit(runner, need, self, candidates, placement);
  if (result.kind !== "ok") {
    await ctx.slots.releaseFrom("engine", self, runner);
    await ctx.slots.releaseFrom("pool", "linux", runner);
  }
  return result;
}

describe("resource admission across processes", () => {
  it("admits runners of an engine only while their memory fits, 20 racing for room for 4", async () => {
    const only = [engine("one")];
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => admit(`r${i}`, "one", only, "any")));
    expect(results.filter((result) => result.kind === "ok")).toHaveLength(4);
    expect(results.filter((result) => result.kind === "engine-full")).toHaveLength(16);
  });

  it("counts CPUs too, and frees a runner's reservation once its slot is released", async () => {
    const small = [engine("one", { cpus: 2 })];
    expect((await admit("a", "one", small, "any", { memoryBytes: GIB, cpus: 1.5 })).kind).toBe("ok");
    expect((await admit("b", "one", small, "any", { memoryBytes: GIB, cpus: 1 })).kind).toBe("engine-full");
    expect((await admit("c", "one", small, "any", { memoryBytes: GIB, cpus: undefined })).kind).toBe("ok");
    await ctx.slots.releaseFrom("engine", "one", "a");
    expect((await admit("b", "one", small, "any", { memoryBytes: GIB, cpus: 1 })).kind).toBe("ok");
  });

  it("spreads: refuses an engine while another has more room, and tells which", async () => {
    const both = [engine("a"), engine("b")];
    expect(await admit("r1", "a", both, "spread")).toEqual({ kind: "ok", engine: "" });
    expect(await admit("r2", "a", both, "spread")).toEqual({ kind: "elsewhere", engine: "b" });
    expect(await admit("r2", "b", both, "spread")).toEqual({ kind: "ok", engine: "" });
    // Equal room again: either engine may take the next one.
    expect((await admit("r3", "a", both, "spread")).kind).toBe("ok");
  });

  it("packs: the first engine by name fills before the next is used", async () => {
    const both = [engine("a"), engine("b")];
    expect(await admit("r1", "b", both, "pack")).toEqual({ kind: "elsewhere", engine: "a" });
    for (const runner of ["r1", "r2", "r3", "r4"]) expect((await admit(runner, "a", both, "pack")).kind).toBe("ok");
    expect(await admit("r5", "a", both, "pack")).toEqual({ kind: "elsewhere", engine: "b" });
    expect((await admit("r5", "b", both, "pack")).kind).toBe("ok");
  });

  it("honours the engine's runner capacity as room", async () => {
    const both = [engine("a", { capacity: 1 }), engine("b")];
    expect((await admit("r1", "a", both, "spread")).kind).toBe("elsewhere");
    expect((await admit("r1", "a", both, "any")).kind).toBe("ok");
    expect((await admit("r2", "a", both, "any")).kind).toBe("engine-full");
  });

  it("admits a runner that already holds its reservation again (a confirm after a re-run)", async () => {
    const only = [engine("one", { memoryBytes: GIB })];
    expect((await admit("r1", "one", only, "any")).kind).toBe("ok");
    expect((await admission.admit("r1", RUNNER, "one", only, "any")).kind).toBe("ok");
  });
});
