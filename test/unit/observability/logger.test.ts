import { describe, expect, it } from "vitest";
import { createLogger } from "../../../src/observability/logger.js";

function capture() {
  const lines: string[] = [];
  const log = createLogger("info", { write: (line: string) => void lines.push(line) });
  return { log, lines };
}

describe("createLogger", () => {
  it("writes one key per field when children rename the logger (runnerhub, then Probot, then Octokit)", () => {
    const { log, lines } = capture();
    log.child({ name: "probot" }).child({ name: "github", pool: "linux" }).child({ pool: "gpu" }).info("hello");
    const [line] = lines;
    expect(line?.match(/"name":/g)).toHaveLength(1);
    expect(line?.match(/"pool":/g)).toHaveLength(1);
    expect(JSON.parse(line ?? "{}")).toMatchObject({ name: "github", pool: "gpu", msg: "hello" });
  });

  it("keeps secrets in child bindings redacted after merging", () => {
    const { log, lines } = capture();
    log.child({ name: "probot" }).child({ token: "ghs_secret_value" }).info("with a token");
    expect(lines.join("")).not.toContain("ghs_secret_value");
    expect(JSON.parse(lines[0] ?? "{}")).toMatchObject({ token: "[redacted]" });
  });
});
