import { describe, expect, it } from "vitest";
import { DEFAULT_URL, parseInvocation, type ParseResult } from "../../../src/cli/args.js";

const parse = (line: string, defaults: { url?: string; token?: string } = {}) =>
  parseInvocation(line.split(" ").filter(Boolean), defaults);

function command(result: ParseResult) {
  if (!result.ok) throw new Error(`usage error: ${result.message}`);
  return result.invocation.command;
}

function usageError(result: ParseResult): string {
  if (result.ok) throw new Error("expected a usage error");
  return result.message;
}

describe("parseInvocation", () => {
  it("reads every command", () => {
    expect(command(parse("pools ls"))).toEqual({ kind: "pools-ls" });
    expect(command(parse("pools set linux --max 3 --min-idle 1"))).toEqual({
      kind: "pools-set",
      name: "linux",
      change: { maxRunners: 3, minIdle: 1 },
    });
    expect(command(parse("pools set linux --idle-timeout 90s --max-lifetime 2h"))).toEqual({
      kind: "pools-set",
      name: "linux",
      change: { idleTimeout: "90s", maxLifetime: "2h" },
    });
    expect(command(parse("runners ls"))).toEqual({ kind: "runners-ls", pool: undefined });
    expect(command(parse("runners ls --pool gpu"))).toEqual({ kind: "runners-ls", pool: "gpu" });
    expect(command(parse("runners show r1"))).toEqual({ kind: "runners-show", name: "r1" });
    expect(command(parse("runners logs r1"))).toEqual({ kind: "runners-logs", name: "r1", follow: false });
    expect(command(parse("runners logs r1 -f"))).toEqual({ kind: "runners-logs", name: "r1", follow: true });
    expect(command(parse("runners logs --follow r1"))).toEqual({ kind: "runners-logs", name: "r1", follow: true });
    expect(command(parse("runners rm r1"))).toEqual({ kind: "runners-rm", name: "r1", force: false });
    expect(command(parse("runners rm r1 --force"))).toEqual({ kind: "runners-rm", name: "r1", force: true });
    expect(command(parse("queue ls"))).toEqual({
      kind: "queue-ls",
      state: undefined,
      page: undefined,
      perPage: undefined,
    });
    expect(command(parse("queue ls failed --page 2 --per-page 10"))).toEqual({
      kind: "queue-ls",
      state: "failed",
      page: 2,
      perPage: 10,
    });
    expect(command(parse("queue retry job-7"))).toEqual({ kind: "queue-retry", id: "job-7" });
    expect(command(parse("engines ls"))).toEqual({ kind: "engines-ls" });
    expect(command(parse("engines drain host-b"))).toEqual({ kind: "engines-drain", name: "host-b", drain: true });
    expect(command(parse("engines undrain host-b"))).toEqual({ kind: "engines-drain", name: "host-b", drain: false });
    expect(command(parse("installations ls"))).toEqual({ kind: "installations-ls" });
    expect(command(parse("--help"))).toEqual({ kind: "help" });
    expect(command(parse("pools ls -h"))).toEqual({ kind: "help" });
  });

  it("takes --url and --token over the environment's defaults, and the built-in URL last", () => {
    const flags = parse("pools ls --url http://127.0.0.1:9/ --token t0k --json", {
      url: "http://127.0.0.1:8",
      token: "env",
    });
    expect(flags).toMatchObject({ ok: true, invocation: { url: "http://127.0.0.1:9/", token: "t0k", json: true } });
    expect(parse("pools ls", { url: "http://127.0.0.1:8", token: "env" })).toMatchObject({
      invocation: { url: "http://127.0.0.1:8", token: "env", json: false },
    });
    expect(parse("pools ls", { url: "", token: "" })).toMatchObject({
      invocation: { url: DEFAULT_URL, token: undefined },
    });
  });

  it("says what is wrong with a command line", () => {
    expect(usageError(parse(""))).toBe("missing command");
    expect(usageError(parse("pools"))).toBe('"pools" needs one of: ls, set');
    expect(usageError(parse("pools rm x"))).toBe('unknown command "pools rm"; "pools" takes ls, set');
    expect(usageError(parse("fly away"))).toBe('unknown command "fly"');
    expect(usageError(parse("pools set linux"))).toContain("at least one of --max");
    expect(usageError(parse("pools set --max 3"))).toBe("missing pool NAME");
    expect(usageError(parse("pools set linux --max three"))).toBe('--max: expected a whole number from 0, got "three"');
    expect(usageError(parse("runners rm"))).toBe("missing runner NAME");
    expect(usageError(parse("runners show"))).toBe("missing runner NAME");
    expect(usageError(parse("runners show r1 -f"))).toBe('option --follow does not apply to "runners show"');
    expect(usageError(parse("runners rm a b"))).toBe('unexpected argument "b"');
    expect(usageError(parse("runners ls --force"))).toBe('option --force does not apply to "runners ls"');
    expect(usageError(parse("queue ls sleeping"))).toContain('unknown queue state "sleeping"');
    expect(usageError(parse("queue ls --page 2"))).toBe("--page and --per-page need a STATE");
    expect(usageError(parse("queue ls failed --page 0"))).toBe('--page: expected a whole number from 1, got "0"');
    expect(usageError(parse("pools ls --colour"))).toContain("--colour");
    expect(usageError(parse("pools ls --url ftp://x"))).toBe('--url: "ftp://x" is not an http(s) URL');
  });
});
