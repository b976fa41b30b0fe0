import { describe, expect, it } from "vitest";
import { classifyExit, exitReason } from "../../../src/docker/exit-reason.js";

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

/** The runner's own lines when GitHub refuses its version (actions/runner issue #4305, run-helper.sh). */
const REFUSED = [
  "√ Connected to GitHub",
  "Current runner version: '2.330.0'",
  "2026-03-17 12:20:29Z: Listening for Jobs",
  "An error occured: Runner version v2.330.0 is deprecated and cannot receive messages.",
  "Runner listener exit with terminated error, stop the service, no retry needed.",
].join("\n");

describe("classifyExit", () => {
  it("calls a runner GitHub refused for its version runner-outdated, whether it exited 0 (run-helper.sh) or not", () => {
    expect(classifyExit("completed", REFUSED)).toBe("runner-outdated");
    expect(classifyExit("crashed", REFUSED)).toBe("runner-outdated");
    // Older runners put the HTTP error first and spelled "occurred" right.
    expect(
      classifyExit(
        "completed",
        "An error occurred: Forbidden Runner version v2.316.0 is deprecated and cannot receive messages.",
      ),
    ).toBe("runner-outdated");
  });

  it("leaves other exits, and exits without the message or without lines, as Docker reported them", () => {
    expect(classifyExit("completed", "job done\n")).toBe("completed");
    expect(classifyExit("crashed", undefined)).toBe("crashed");
    expect(classifyExit("oom-killed", REFUSED)).toBe("oom-killed");
    expect(classifyExit("completed", "Runner version is deprecated")).toBe("completed");
  });
});
