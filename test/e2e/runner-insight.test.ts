import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JOB_STATES } from "../../src/admin/schemas.js";
import { waitFor } from "../sim/github-simulator.js";
import { startStack, stubPool, type Stack } from "./support/stack.js";

const CLI = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
const TOKEN = "insight-e2e-admin-token-0123456789";

let stack: Stack;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The built CLI against the built app, as a user runs it. */
function cli(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { PATH: process.env.PATH ?? "", RUNNERHUB_URL: stack.app.url, ADMIN_TOKEN: TOKEN }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function admin(path: string): Promise<string> {
  const response = await fetch(`${stack.app.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const text = await response.text();
  expect(response.status, `${path}: ${text}`).toBe(200);
  return text;
}

/** A runner whose start-up fails after printing the JIT config it was given (as a broken image might). */
const crashingPool = stubPool({
  name: "crashy",
  labels: ["self-hosted", "crashy"],
  command: [
    "sh",
    "-c",
    'echo "starting with config $ACTIONS_RUNNER_INPUT_JITCONFIG"; echo "runner: cannot configure: broker refused the session" >&2; exit 3',
  ],
});

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` before the tests`);
  stack = await startStack({ pools: [crashingPool], env: { ADMIN_TOKEN: TOKEN } });
});

afterAll(async () => {
  await stack?.stop();
});

describe("what happened inside a runner, end to end", () => {
  let runnerName = "";

  it("keeps the last log lines and exit record of a runner that crashed at start-up, for runners show", async () => {
    await stack.sim.queueJob({ owner: "acme", repo: "app", labels: ["self-hosted", "crashy"] });
    runnerName = await waitFor(() => stack.sim.registrationHistory().find((r) => r.name.startsWith("crashy-"))?.name, {
      timeoutMs: 20_000,
      what: "a runner registered for the crashing pool",
    });

    const shown = await waitFor(
      async () => {
        const run = await cli(["runners", "show", runnerName]);
        return run.code === 0 && run.stdout.includes("exited") ? run : undefined;
      },
      { timeoutMs: 30_000, what: `runners show ${runnerName} to report the exit` },
    );
    expect(shown.stderr).toBe("");
    expect(shown.stdout).toMatch(new RegExp(`^name:\\s+${runnerName}$`, "m"));
    expect(shown.stdout).toMatch(/^pool:\s+crashy$/m);
    expect(shown.stdout).toMatch(/^state:\s+exited: crashed, exit code 3$/m);
    expect(shown.stdout).toContain("--- last log lines ---\n");
    expect(shown.stdout).toContain("runner: cannot configure: broker refused the session\n");
    expect(shown.stdout).toContain("starting with config ***\n");

    const logs = await cli(["runners", "logs", runnerName]);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toContain("runner: cannot configure: broker refused the session\n");

    const json = JSON.parse((await cli(["runners", "show", runnerName, "--json"])).stdout) as Record<string, unknown>;
    expect(json).toMatchObject({
      name: runnerName,
      state: "exited",
      exit: { reason: "crashed", exitCode: 3, oomKilled: false },
    });
  });

  it("shows no JIT config or token in those logs, in any admin API answer, or in the app's log", async () => {
    const secrets = stack.sim.issuedSecrets();
    expect(secrets.length).toBeGreaterThanOrEqual(2);
    const answers = [
      await admin("/admin/pools"),
      await admin("/admin/runners"),
      await admin(`/admin/runners/${runnerName}`),
      await admin(`/admin/runners/${runnerName}/logs`),
      await admin(`/admin/runners/${runnerName}/logs?follow=true`),
      await admin("/admin/queue"),
      await admin("/admin/openapi.json"),
    ];
    for (const state of JOB_STATES) {
      const page = await admin(`/admin/queue/jobs?state=${state}`);
      answers.push(page);
      for (const job of (JSON.parse(page) as { jobs: { id: string }[] }).jobs) {
        answers.push(await admin(`/admin/queue/jobs/${encodeURIComponent(job.id)}`));
      }
    }
    const cliOutput = [
      (await cli(["runners", "show", runnerName])).stdout,
      (await cli(["runners", "logs", runnerName])).stdout,
    ];
    const scanned = [...answers, ...cliOutput, stack.app.logs().join("\n")];
    for (const secret of secrets) {
      for (const text of scanned)
        expect(text.includes(secret), `a secret leaked into: ${text.slice(0, 200)}`).toBe(false);
    }
    expect(answers.join("\n")).not.toMatch(/ghs_[A-Za-z0-9]{20,}/);
  });
});
