import { describe, expect, it } from "vitest";
import { reportSwallowed, swallowInto } from "../../../src/observability/internal-errors.js";
import { createLogger } from "../../../src/observability/logger.js";
import { createMetrics } from "../../../src/observability/metrics.js";

function reporting(level = "debug") {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger(level, {
    write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>),
  });
  return { lines, deps: { log, metrics: createMetrics() } };
}

const counted = async (deps: ReturnType<typeof reporting>["deps"]) =>
  (await deps.metrics.registry.getMetricsAsJSON())
    .find((metric) => metric.name === "runnerhub_internal_errors_total")
    ?.values.map((value) => ({ where: value.labels.where, value: value.value }));

describe("swallowed errors", () => {
  it("are logged with where, the error and the caller's fields, and counted by where", async () => {
    const { lines, deps } = reporting();
    reportSwallowed(deps, new Error("Redis went away"), {
      where: "event-feed.record",
      message: "could not add to the event feed",
      fields: { pool: "linux" },
    });
    reportSwallowed(deps, new Error("again"), {
      where: "event-feed.record",
      message: "could not add to the event feed",
    });
    reportSwallowed(deps, "not an Error", {
      where: "exit-watcher.clean-up",
      message: "runner cleanup failed",
      level: "error",
    });

    expect(lines[0]).toMatchObject({
      level: 40,
      msg: "could not add to the event feed",
      where: "event-feed.record",
      pool: "linux",
      err: { message: "Redis went away" },
    });
    expect(lines[2]).toMatchObject({ level: 50, where: "exit-watcher.clean-up", err: "not an Error" });
    expect(await counted(deps)).toEqual([
      { where: "event-feed.record", value: 2 },
      { where: "exit-watcher.clean-up", value: 1 },
    ]);
  });

  it("keep their place: the caller's fields never overwrite where or err", () => {
    const { lines, deps } = reporting();
    reportSwallowed(deps, new Error("real"), {
      where: "images.renew-pull-lock",
      message: "m",
      fields: { where: "elsewhere", err: "fake" },
    });
    expect(lines[0]).toMatchObject({ where: "images.renew-pull-lock", err: { message: "real" } });
  });

  it("are counted even when the log level hides the line", async () => {
    const { lines, deps } = reporting("info");
    reportSwallowed(deps, new Error("gone"), { where: "usage-sampler.read", message: "m", level: "debug" });
    expect(lines).toEqual([]);
    expect(await counted(deps)).toEqual([{ where: "usage-sampler.read", value: 1 }]);
  });

  it("end a promise chain with undefined", async () => {
    const { lines, deps } = reporting();
    const result = await Promise.reject(new Error("no")).catch(
      swallowInto(deps, { where: "intake.suspect-miss", message: "could not ask" }),
    );
    expect(result).toBeUndefined();
    expect(lines[0]).toMatchObject({ where: "intake.suspect-miss", msg: "could not ask" });
  });
});
