import { describe, expect, it } from "vitest";
import { parseDuration, parseSize } from "../../../src/config/units.js";

describe("parseSize", () => {
  it.each([
    ["512m", 512 * 1024 ** 2],
    ["4g", 4 * 1024 ** 3],
    ["4G", 4 * 1024 ** 3],
    ["1.5g", 1.5 * 1024 ** 3],
    ["64k", 64 * 1024],
    ["2048", 2048],
    ["512mb", 512 * 1024 ** 2],
  ])("%s is %d bytes", (text, bytes) => expect(parseSize(text)).toBe(bytes));

  it.each(["", "m", "4x", "-1g", "four"])("%j is not a size", (text) => expect(parseSize(text)).toBeUndefined());
});

describe("parseDuration", () => {
  it.each([
    ["90s", 90_000],
    ["10m", 600_000],
    ["6h", 21_600_000],
    ["250ms", 250],
    ["1d", 86_400_000],
  ])("%s is %d ms", (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(["", "10", "5 minutes", "h", "-3s"])("%j is not a duration", (text) =>
    expect(parseDuration(text)).toBeUndefined(),
  );
});
