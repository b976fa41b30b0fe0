import { describe, expect, it } from "vitest";
import { exitReason } from "../../../src/lifecycle/exit-reason.js";

describe("exitReason", () => {
  it("tells completed, crashed, OOM-killed and vanished runners apart", () => {
    expect(exitReason({ exitCode: 0, oomKilled: false, error: undefined })).toBe("completed");
    expect(exitReason({ exitCode: 137, oomKilled: false, error: undefined })).toBe("crashed");
    expect(exitReason({ exitCode: 137, oomKilled: true, error: undefined })).toBe("oom-killed");
    expect(exitReason(undefined)).toBe("gone");
  });
});
