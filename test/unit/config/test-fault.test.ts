import { describe, expect, it } from "vitest";
import { parseTestFault } from "../../../src/config/test-fault.js";

describe("the test-only fault point", () => {
  it("is off when unset, and names its step under NODE_ENV=test", () => {
    expect(parseTestFault(undefined, "production")).toEqual({ step: undefined });
    expect(parseTestFault("kill-after:registered", "test")).toEqual({ step: "registered" });
  });

  it("refuses to run outside tests, and says which steps there are", () => {
    expect(parseTestFault("kill-after:registered", "production")).toEqual({
      problem: expect.stringMatching(/^RUNNERHUB_TEST_FAULT: .*only with NODE_ENV=test; unset it/),
    });
    expect(parseTestFault("kill-after:lunch", "test")).toEqual({
      problem: expect.stringMatching(/"kill-after:lunch" is not kill-after:<record-written\|registered\|/),
    });
  });
});
