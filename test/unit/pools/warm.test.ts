import { describe, expect, it } from "vitest";
import { warmShortfall, warmTarget } from "../../../src/pools/warm.js";
import { pool } from "../support/pools.js";

describe("warmTarget", () => {
  it("is the pool's minIdle when it names where warm runners register, else none", () => {
    expect(warmTarget(pool({ name: "warm", labels: ["self-hosted"], minIdle: 2, warmScope: "acme" }))).toBe(2);
    expect(warmTarget(pool({ name: "cold", labels: ["self-hosted"] }))).toBe(0);
    expect(warmTarget({ minIdle: 2, warmScope: undefined })).toBe(0);
  });
});

describe("warmShortfall", () => {
  const room = 10;

  it("is the target less the free runners no waiting job claims", () => {
    expect(warmShortfall({ target: 2, free: 0, waiting: 0, room, unserved: 0 })).toBe(2);
    expect(warmShortfall({ target: 2, free: 1, waiting: 0, room, unserved: 0 })).toBe(1);
    expect(warmShortfall({ target: 2, free: 3, waiting: 0, room, unserved: 0 })).toBe(-1);
    // Free runners that waiting jobs will take are not spare.
    expect(warmShortfall({ target: 2, free: 2, waiting: 2, room, unserved: 0 })).toBe(2);
  });

  it("stays within the room under maxRunners that the runners for unserved jobs leave", () => {
    expect(warmShortfall({ target: 3, free: 0, waiting: 0, room: 1, unserved: 0 })).toBe(1);
    expect(warmShortfall({ target: 3, free: 0, waiting: 2, room: 3, unserved: 2 })).toBe(1);
    expect(warmShortfall({ target: 3, free: 0, waiting: 0, room: 0, unserved: 0 })).toBe(0);
  });
});
