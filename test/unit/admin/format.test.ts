import { describe, expect, it } from "vitest";
import { formatAge, formatBytes } from "../../../src/admin/format.js";

describe("formatAge", () => {
  it("picks the largest whole unit", () => {
    expect(formatAge(-5)).toBe("0s");
    expect(formatAge(59_999)).toBe("59s");
    expect(formatAge(60_000)).toBe("1m");
    expect(formatAge(2 * 3600_000 + 5)).toBe("2h");
    expect(formatAge(3 * 86_400_000)).toBe("3d");
  });
});

describe("formatBytes", () => {
  it("formats sizes in binary units", () => {
    expect([512, 1536, 64 * 1024 * 1024, 3 * 1024 ** 3].map(formatBytes)).toEqual([
      "512 B",
      "1.5 KiB",
      "64.0 MiB",
      "3.0 GiB",
    ]);
  });
});
