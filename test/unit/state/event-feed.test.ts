import { describe, expect, it } from "vitest";
import { exitEventKind, parseEntries } from "../../../src/state/event-feed.js";

describe("exitEventKind", () => {
  it("names crashes and OOM kills, and everything else a removal", () => {
    expect(exitEventKind("crashed")).toBe("crashed");
    expect(exitEventKind("oom-killed")).toBe("oom-killed");
    for (const reason of ["completed", "never-started", "gone", "idle", "drained", "job-completed", "start-failed"]) {
      expect(exitEventKind(reason), reason).toBe("removed");
    }
  });
});

describe("parseEntries", () => {
  it("reads the event of each stream entry with its id and leaves out what does not parse", () => {
    const good = { kind: "took-job", at: 5, pool: "linux", runnerName: "linux-1", jobId: 9 };
    expect(
      parseEntries([
        ["1-0", ["event", JSON.stringify(good)]],
        ["2-0", ["event", "{not json"]],
        ["3-0", ["event", JSON.stringify({ kind: "exploded", at: 1, pool: "p" })]],
        ["4-0", ["other", "x"]],
      ]),
    ).toEqual([{ ...good, id: "1-0" }]);
  });
});
