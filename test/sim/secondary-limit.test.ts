import { describe, expect, it } from "vitest";
import { SecondaryLimit } from "./secondary-limit.js";

describe("the simulator's secondary limit", () => {
  it("keeps points per installation over a sliding minute, refusing with the seconds until room", () => {
    let clock = 0;
    const limit = new SecondaryLimit(20, () => clock);
    for (let i = 0; i < 4; i++) expect(limit.spend("1", "POST", "/orgs/a/x")).toBeUndefined();
    clock = 10_000;
    expect(limit.spend("1", "GET", "/orgs/a/y")).toBe(50);
    // Another installation's token has its own minute.
    expect(limit.spend("2", "POST", "/orgs/b/x")).toBeUndefined();
    clock = 60_001;
    expect(limit.spend("1", "POST", "/orgs/a/x")).toBeUndefined();
    expect(limit.refusals()).toEqual({ "1": 1 });
    expect(limit.requests("1")).toHaveLength(5);
  });
});
