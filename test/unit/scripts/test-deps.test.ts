import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

const SCRIPT = fileURLToPath(new URL("../../../scripts/test-deps.sh", import.meta.url));

interface Machine {
  /** Packages dpkg-query reports as not installed; undefined: no dpkg-query (not Debian). */
  missing?: string[];
  /** Commands on PATH, for a machine without dpkg-query. */
  commands?: string[];
  uid?: number;
  /** undefined: no apt-get on PATH. */
  aptExit?: number;
}

const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function executable(file: string, body: string): void {
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
}

/**
 * Runs the script with a PATH holding only fakes of dpkg-query, id and apt-get (apt-get records
 * its arguments instead of installing), so no test touches the real package database.
 */
function run(machine: Machine) {
  const bin = mkdtempSync(path.join(tmpdir(), "rh-test-deps-"));
  dirs.push(bin);
  const calls = path.join(bin, "apt-calls");
  for (const tool of ["mktemp", "tail", "rm"]) symlinkSync(`/usr/bin/${tool}`, path.join(bin, tool));
  executable(path.join(bin, "id"), `echo ${machine.uid ?? 0}`);
  if (machine.missing) {
    executable(
      path.join(bin, "dpkg-query"),
      `case " ${machine.missing.join(" ")} " in *" $3 "*) echo "dpkg-query: no packages found matching $3" >&2; exit 1;; esac
printf 'install ok installed'`,
    );
  }
  for (const command of machine.commands ?? []) executable(path.join(bin, command), "exit 0");
  if (machine.aptExit !== undefined) {
    executable(path.join(bin, "apt-get"), `echo "$*" >>"${calls}"; echo "E: apt says no"; exit ${machine.aptExit}`);
  }
  const result = spawnSync("/bin/bash", [SCRIPT], { env: { PATH: bin }, encoding: "utf8" });
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    aptCalls: existsSync(calls) ? readFileSync(calls, "utf8").trim().split("\n") : [],
  };
}

describe("scripts/test-deps.sh", () => {
  it("is silent and calls no apt command when every package is installed", () => {
    expect(run({ missing: [], aptExit: 0 })).toEqual({ status: 0, stdout: "", stderr: "", aptCalls: [] });
  });

  it("as root with apt-get, installs only what is missing, updating once, and says so in one line", () => {
    expect(run({ missing: ["busybox-static", "redis-server"], aptExit: 0 })).toEqual({
      status: 0,
      stdout: "test-deps: installing redis-server busybox-static with apt-get\n",
      stderr: "",
      aptCalls: ["update", "install -y --no-install-recommends redis-server busybox-static"],
    });
  });

  it("when not root, names the missing packages and the command, and installs nothing", () => {
    const result = run({ missing: ["docker.io"], uid: 1000, aptExit: 0 });
    expect(result).toMatchObject({ status: 1, stdout: "", aptCalls: [] });
    expect(result.stderr).toBe(
      "test-deps: the tests need docker.io; install them as root (apt-get install -y docker.io), then run npm test again\n",
    );
  });

  it("without apt-get or dpkg-query, checks the commands the packages provide and stops", () => {
    const result = run({ commands: ["redis-server", "redis-sentinel", "dockerd", "chromium", "docker-registry"] });
    expect(result).toMatchObject({ status: 1, stdout: "" });
    expect(result.stderr).toContain("the tests need busybox-static;");
    expect(
      run({ commands: ["redis-server", "redis-sentinel", "dockerd", "busybox", "chromium", "docker-registry"] }),
    ).toMatchObject({
      status: 0,
      stderr: "",
    });
  });

  it("fails with apt-get's own words when the install fails", () => {
    const result = run({ missing: ["busybox-static"], aptExit: 100 });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("test-deps: apt-get could not install busybox-static; last lines of its output:");
    expect(result.stderr).toContain("E: apt says no");
    expect(result.aptCalls).toEqual(["update"]);
  });
});
