import { describe, expect, it } from "vitest";
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, runCli } from "../../../src/cli/run.js";

interface Sent {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/** runCli with a fetch that answers from a table and records what it was asked. */
async function run(
  argv: string[],
  answer: (sent: Sent) => Response | Promise<Response>,
  env: { url?: string; token?: string } = {},
) {
  const out: string[] = [];
  const err: string[] = [];
  const sent: Sent[] = [];
  const fetchStub = async (input: string | URL | Request, init?: RequestInit) => {
    const request: Sent = {
      url: String(input),
      method: init?.method ?? "GET",
      headers: (init?.headers ?? {}) as Record<string, string>,
      body: typeof init?.body === "string" ? init.body : undefined,
    };
    sent.push(request);
    return answer(request);
  };
  const code = await runCli(
    argv,
    { url: "http://127.0.0.1:4000/", token: "env-token", ...env },
    {
      stdout: (text) => out.push(text),
      stderr: (text) => err.push(text),
      fetch: fetchStub as typeof fetch,
      now: () => 0,
    },
  );
  return { code, stdout: out.join(""), stderr: err.join(""), sent };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

describe("runCli", () => {
  it("sends the change with the token and prints the pool", async () => {
    const pool = {
      name: "linux",
      labels: ["self-hosted"],
      image: "i",
      pull: "missing",
      imageStatus: [],
      limits: { maxRunners: 3, minIdle: 0, idleTimeoutMs: 1, maxLifetimeMs: 1 },
      overrides: { maxRunners: 3 },
      counts: { starting: 0, idle: 0, busy: 0, waiting: 0, slotsHeld: 0, parked: 0 },
      warmTarget: 0,
      warmReason: { kind: "floor", floor: 0, schedule: null, forecast: null, cappedBy: null },
      health: "ok",
      crashLoop: null,
    };
    const result = await run(["pools", "set", "linux", "--max", "3"], () => json(200, pool));
    expect(result.code).toBe(EXIT_OK);
    expect(result.sent).toEqual([
      {
        url: "http://127.0.0.1:4000/admin/pools/linux",
        method: "PATCH",
        headers: expect.objectContaining({ authorization: "Bearer env-token", "content-type": "application/json" }),
        body: '{"maxRunners":3}',
      },
    ]);
    expect(result.stdout).toContain("linux  3*");
  });

  it("prints the API's JSON with --json", async () => {
    const result = await run(["queue", "ls", "--json"], () =>
      json(200, { queue: "provision", counts: { waiting: 1 } }),
    );
    expect(result.code).toBe(EXIT_OK);
    expect(JSON.parse(result.stdout)).toEqual({ queue: "provision", counts: { waiting: 1 } });
  });

  it("prints API errors with their fields and exits 1", async () => {
    const result = await run(["pools", "set", "linux", "--min-idle", "9"], () =>
      json(400, {
        error: "invalid pool change",
        details: [{ field: "minIdle", message: "must not exceed maxRunners (3)" }],
      }),
    );
    expect(result).toMatchObject({
      code: EXIT_FAILED,
      stdout: "",
      stderr: "error: invalid pool change\n  minIdle: must not exceed maxRunners (3)\n",
    });
  });

  it("hints at the token when the server asks for one", async () => {
    const result = await run(["pools", "ls"], () => json(401, { error: "admin token required" }), { token: "" });
    expect(result.sent[0]?.headers.authorization).toBeUndefined();
    expect(result.stderr).toBe("error: admin token required\n  (set ADMIN_TOKEN or pass --token)\n");
  });

  it("says when the server cannot be reached or is not runnerhub", async () => {
    const down = await run(["pools", "ls"], () =>
      Promise.reject(new TypeError("fetch failed", { cause: new Error("connect ECONNREFUSED 127.0.0.1:4000") })),
    );
    expect(down).toMatchObject({
      code: EXIT_FAILED,
      stderr: "error: cannot reach runnerhub at http://127.0.0.1:4000/: connect ECONNREFUSED 127.0.0.1:4000\n",
    });
    const html = await run(["pools", "ls"], () => new Response("<html>", { status: 200 }));
    expect(html.code).toBe(EXIT_FAILED);
    expect(html.stderr).toContain("without JSON");
    const odd = await run(["pools", "ls"], () => json(200, { something: "else" }));
    expect(odd.code).toBe(EXIT_FAILED);
    expect(odd.stderr).toContain("unexpected answer");
  });

  it("exits 2 with the usage on a bad command line, without calling the server", async () => {
    const result = await run(["runners", "rm"], () => json(200, {}));
    expect(result.code).toBe(EXIT_USAGE);
    expect(result.sent).toEqual([]);
    expect(result.stderr).toMatch(/^runnerhub: missing runner NAME\n\nusage: runnerhub/);
  });

  it("encodes names into the path and asks for force", async () => {
    const result = await run(["runners", "rm", "a b", "--force"], () =>
      json(202, {
        runner: { name: "a b" },
        stop: { queue: "q", jobId: "1", reason: "drained-forced" },
        registrationDeleted: false,
      }),
    );
    expect(result.sent[0]).toMatchObject({
      url: "http://127.0.0.1:4000/admin/runners/a%20b?force=true",
      method: "DELETE",
    });
  });

  it("prints a runner's logs as text, following without a time limit when asked", async () => {
    const result = await run(["runners", "logs", "linux-abc", "-f"], () => {
      const body = new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode("line one\nline "));
          controller.enqueue(new TextEncoder().encode("two\n"));
          controller.close();
        },
      });
      return new Response(body, { status: 200, headers: { "content-type": "text/plain" } });
    });
    expect(result).toMatchObject({ code: EXIT_OK, stdout: "line one\nline two\n", stderr: "" });
    expect(result.sent[0]?.url).toBe("http://127.0.0.1:4000/admin/runners/linux-abc/logs?follow=true");
    expect(result.sent[0]?.headers).toMatchObject({ accept: "text/plain", authorization: "Bearer env-token" });
  });

  it("prints the API's error for logs of an unknown runner and exits 1", async () => {
    const result = await run(["runners", "logs", "ghost"], () => json(404, { error: 'no runner named "ghost"' }));
    expect(result).toMatchObject({ code: EXIT_FAILED, stdout: "", stderr: 'error: no runner named "ghost"\n' });
    expect(result.sent[0]?.url).toBe("http://127.0.0.1:4000/admin/runners/ghost/logs");
  });
});
