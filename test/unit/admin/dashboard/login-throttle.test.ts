import { describe, expect, it } from "vitest";
import { createLoginThrottle } from "../../../../src/admin/dashboard/login-throttle.js";

const limits = { limit: 3, windowMs: 60_000, maxAddresses: 2 };

describe("createLoginThrottle", () => {
  it("lets an address fail `limit` times per window, then makes it wait for the window's end", () => {
    const throttle = createLoginThrottle(limits);
    for (const at of [1_000, 2_000, 3_000]) {
      expect(throttle.waitMs("a", at)).toBeUndefined();
      throttle.failed("a", at);
    }
    expect(throttle.waitMs("a", 4_000)).toBe(57_000);
    expect(throttle.waitMs("b", 4_000)).toBeUndefined();
    expect(throttle.waitMs("a", 61_000)).toBeUndefined();
  });

  it("forgets an address on success", () => {
    const throttle = createLoginThrottle(limits);
    for (const at of [1, 2, 3]) throttle.failed("a", at);
    throttle.succeeded("a");
    expect(throttle.waitMs("a", 4)).toBeUndefined();
  });

  it("remembers at most maxAddresses, forgetting the longest-known first", () => {
    const throttle = createLoginThrottle(limits);
    for (const address of ["a", "b", "c"]) for (const at of [1, 2, 3]) throttle.failed(address, at);
    expect(throttle.waitMs("a", 4)).toBeUndefined();
    expect(throttle.waitMs("b", 4)).toBe(59_997);
    expect(throttle.waitMs("c", 4)).toBe(59_997);
  });
});
