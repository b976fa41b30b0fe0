import { describe, expect, it } from "vitest";
import { afterDeregistration, drainable } from "../../../src/lifecycle/drain.js";
import { runnerRecord } from "../support/runners.js";

describe("drainable", () => {
  it("is not-found without a live record", () => {
    expect(drainable(undefined, false)).toEqual({ kind: "not-found" });
    expect(drainable(undefined, true)).toEqual({ kind: "not-found" });
  });

  it("drains an idle or starting runner", () => {
    const idle = runnerRecord("r1", { state: "idle" });
    expect(drainable(idle, false)).toEqual({ kind: "drainable", record: idle });
    const starting = runnerRecord("r2", { state: "starting" });
    expect(drainable(starting, false)).toEqual({ kind: "drainable", record: starting });
  });

  it("refuses a busy runner unless forced, naming the job it took", () => {
    const busy = runnerRecord("r1", { state: "busy", githubJobId: 11, busyJobId: 22 });
    expect(drainable(busy, false)).toEqual({ kind: "busy", githubJobId: 22 });
    expect(drainable(busy, true)).toEqual({ kind: "drainable", record: busy });
  });

  it("names the job it was made for when the taken job is not known", () => {
    const busy = runnerRecord("r1", { state: "busy", githubJobId: 11, busyJobId: undefined });
    expect(drainable(busy, false)).toEqual({ kind: "busy", githubJobId: 11 });
  });
});

describe("afterDeregistration", () => {
  it("stops the runner once GitHub deleted its registration", () => {
    expect(afterDeregistration("deleted", false)).toEqual({ kind: "stop", registrationDeleted: true });
  });

  it("stops a runner whose registration is gone or was never known", () => {
    expect(afterDeregistration("missing", false)).toEqual({ kind: "stop", registrationDeleted: false });
    expect(afterDeregistration(undefined, false)).toEqual({ kind: "stop", registrationDeleted: false });
  });

  it("keeps a runner that has just taken a job unless forced", () => {
    expect(afterDeregistration("busy", false)).toEqual({ kind: "took-job" });
    expect(afterDeregistration("busy", true)).toEqual({ kind: "stop", registrationDeleted: false });
  });
});
