import { describe, expect, it } from "vitest";
import { exitReason } from "../../../src/docker/exit-reason.js";

const exit = { exitCode: 0, oomKilled: false, error: undefined, neverStarted: false, memoryLimitBytes: undefined };

describe("exitReason", () => {
  it("tells completed, crashed, OOM-killed, never-started and vanished runners apart", () => {
    expect(exitReason(exit)).toBe("completed");
    expect(exitReason({ ...exit, exitCode: 137 })).toBe("crashed");
    expect(exitReason({ ...exit, exitCode: 137, oomKilled: true })).toBe("oom-killed");
    expect(exitReason({ ...exit, neverStarted: true })).toBe("never-started");
    expect(exitReason(undefined)).toBe("gone");
  });
});
