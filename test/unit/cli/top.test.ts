import { describe, expect, it } from "vitest";
import { parseInvocation } from "../../../src/cli/args.js";
import { EXIT_FAILED, EXIT_OK, runCli, type Terminal } from "../../../src/cli/run.js";
import { ANSI, bar, redraw, renderTop } from "../../../src/cli/top.js";
import { crashLoopingOverview, knownOverview } from "../support/overview.js";

const URL_ = "http://127.0.0.1:3000";

describe("renderTop", () => {
  it("says which pool is crash-looping, until when, and what its last runner printed last", () => {
    const lines = renderTop(crashLoopingOverview(), { url: URL_ }).split("\n");
    const at = lines.indexOf("gpu    1    0         0         0     0       0     0        0       0/1 [..........]");
    expect(lines.slice(at + 1, at + 5)).toEqual([
      "! pool gpu crash-looping: 4 runners in a row ended before a job; next runner not before 03:05:00 UTC; last gpu-dddd0005 (crashed, exit code 1)",
      "    config <bad>",
      "    not allowed",
      "    exiting with code 1",
    ]);
  });

  it("renders a known state", () => {
    expect(renderTop(knownOverview(), { url: URL_ })).toBe(
      [
        "runnerhub top  http://127.0.0.1:3000  03:04:05 UTC  (q or Ctrl-C quits)",
        "queue provision: waiting 2  delayed 1  active 1  completed 40  failed 3",
        "",
        "POOL   MAX  MIN-IDLE  STARTING  IDLE  TARGET  BUSY  WAITING  PARKED  SLOTS",
        "linux  4    1         1         1     1       1     2        1       3/4 [########..]",
        "gpu    1    0         0         0     0       0     0        0       0/1 [..........]",
        "",
        "ENGINE  HEALTH   STARTING  IDLE  BUSY  CAPACITY  LAST BEAT",
        "host-a  ok       1         1     0     8         2s ago",
        "host-b  silent   0         0     1     unknown   2m ago",
        "host-c  unknown  0         0     0     unknown   -",
        "",
        "RUNNER          POOL   ENGINE  STATE                  AGE  JOB  REPOSITORY",
        "linux-aaaa0001  linux  host-a  starting               5s   100  acme/app",
        "linux-aaaa0002  linux  host-a  idle (retiring: idle)  1m   100  acme/app",
        "linux-bbbb0003  linux  host-b  busy                   1h   101  acme/<web>",
        "",
        "RECENT EVENTS",
        "TIME      EVENT       RUNNER          POOL   JOB  REPOSITORY  REASON",
        "03:04:04  OOM-KILLED  linux-cccc0004  linux  99   acme/app    oom-killed",
        "03:04:03  took job    linux-bbbb0003  linux  101  acme/<web>",
        "03:04:00  created     linux-aaaa0001  linux  102  acme/app",
        "03:03:59  queued      -               linux  102  acme/app",
        "",
      ].join("\n"),
    );
  });

  it("shows each pool's idle runners beside its warm target, and - while the target is not known", () => {
    const targets = (overview: ReturnType<typeof knownOverview>) =>
      renderTop(overview, { url: URL_ })
        .split("\n")
        .filter((line) => /^(POOL|linux|gpu) /.test(line))
        .map((line) => line.split(/\s+/).slice(4, 6));
    expect(targets(knownOverview())).toEqual([
      ["IDLE", "TARGET"],
      ["1", "1"],
      ["0", "0"],
    ]);
    const raised = { ...knownOverview(), history: knownOverview().history.map((pool) => ({ ...pool, target: 3 })) };
    expect(targets(raised)[1]).toEqual(["1", "3"]);
    expect(targets({ ...knownOverview(), history: [] })[1]).toEqual(["1", "-"]);
  });

  it("says when there is nothing, and shows a warning under the title", () => {
    const empty = { ...knownOverview(), pools: [], engines: [], runners: [], events: [] };
    const text = renderTop(empty, { url: URL_, warning: "cannot reach runnerhub" });
    expect(text.split("\n").slice(1, 2)).toEqual(["! cannot reach runnerhub"]);
    for (const line of ["no pools", "no engines known", "no runners", "no events yet"])
      expect(text).toContain(`\n${line}\n`);
  });

  it("fits the terminal: cut to its width, fewer events, then a note of what is hidden", () => {
    const narrow = renderTop(knownOverview(), { url: URL_, columns: 20 });
    expect(Math.max(...narrow.split("\n").map((line) => line.length))).toBe(20);

    const short = renderTop(knownOverview(), { url: URL_, rows: 21 }).trimEnd().split("\n");
    // One row stays free: a full screen would scroll on the frame's last newline.
    expect(short).toHaveLength(20);
    expect(short.slice(-2)).toEqual([
      "TIME      EVENT       RUNNER          POOL   JOB  REPOSITORY  REASON",
      "03:04:04  OOM-KILLED  linux-cccc0004  linux  99   acme/app    oom-killed",
    ]);

    const tiny = renderTop(knownOverview(), { url: URL_, rows: 6 }).trimEnd().split("\n");
    expect(tiny).toHaveLength(5);
    expect(tiny[4]).toBe("… 14 more lines (a taller terminal shows them)");
  });
});

describe("bar and redraw", () => {
  it("fills a bar in proportion, and never past its end", () => {
    expect(bar(0, 4)).toBe("[..........]");
    expect(bar(2, 4)).toBe("[#####.....]");
    expect(bar(9, 4)).toBe("[##########]");
    expect(bar(1, 0)).toBe("[..........]");
  });

  it("draws over the previous frame: home, each line clears its tail, then the rest below", () => {
    expect(redraw("a\nb\n")).toBe(`${ANSI.home}a${ANSI.clearLine}\nb${ANSI.clearLine}\n${ANSI.clearBelow}`);
  });
});

describe("runnerhub top", () => {
  it("parses --once and --interval, and refuses bad values", () => {
    const parsed = parseInvocation(["top", "--once", "--interval", "0.5"], {});
    expect(parsed.ok && parsed.invocation.command).toEqual({ kind: "top", once: true, intervalMs: 500 });
    const plain = parseInvocation(["top"], {});
    expect(plain.ok && plain.invocation.command).toEqual({ kind: "top", once: false, intervalMs: 2_000 });
    expect(parseInvocation(["top", "--interval", "0"], {})).toEqual({
      ok: false,
      message: '--interval: expected seconds from 0.5 to 3600, got "0"',
    });
    expect(parseInvocation(["top", "now"], {})).toEqual({ ok: false, message: 'unexpected argument "now"' });
    expect(parseInvocation(["pools", "ls", "--once"], {})).toEqual({
      ok: false,
      message: 'option --once does not apply to "pools ls"',
    });
  });

  const json = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

  async function run(argv: string[], answers: Response[], terminal?: Terminal) {
    const out: string[] = [];
    const err: string[] = [];
    const urls: string[] = [];
    const code = await runCli(
      argv,
      { url: URL_, token: "t" },
      {
        stdout: (text) => out.push(text),
        stderr: (text) => err.push(text),
        fetch: (async (input: string | URL | Request) => {
          urls.push(String(input));
          const next = answers.shift();
          if (!next) throw new Error("no more answers");
          return next;
        }) as typeof fetch,
        now: () => 0,
        ...(terminal ? { openTerminal: () => terminal } : {}),
      },
    );
    return { code, out, stderr: err.join(""), urls };
  }

  it("--once prints one plain frame of GET /admin/overview (with GET /admin/installations' notes)", async () => {
    const result = await run(["top", "--once"], [json(200, knownOverview()), json(200, { installations: [] })]);
    expect(result.code).toBe(EXIT_OK);
    expect(result.urls).toEqual([`${URL_}/admin/overview`, `${URL_}/admin/installations`]);
    expect(result.out.join("")).toBe(renderTop(knownOverview(), { url: URL_ }));
  });

  it("--once fails with the server's error", async () => {
    const result = await run(["top", "--once"], [json(401, { error: "wrong admin token" })]);
    expect(result.code).toBe(EXIT_FAILED);
    expect(result.stderr).toBe("error: wrong admin token\n");
  });

  function fakeTerminal(quitAfter: number): Terminal & { closed: boolean; waits: number[] } {
    const terminal = {
      interactive: true,
      closed: false,
      waits: [] as number[],
      columns: () => 200,
      rows: () => 60,
      async waitForQuit(ms: number) {
        terminal.waits.push(ms);
        return terminal.waits.length >= quitAfter;
      },
      close() {
        terminal.closed = true;
      },
    };
    return terminal;
  }

  it("redraws in place until the user quits, keeps the last picture through a lost connection, and restores the screen", async () => {
    const terminal = fakeTerminal(3);
    const result = await run(
      ["top", "--interval", "5"],
      [
        json(200, knownOverview()),
        json(200, { installations: [] }),
        json(503, { error: "not ready" }),
        json(200, knownOverview()),
        json(200, { installations: [] }),
      ],
      terminal,
    );
    expect(result.code).toBe(EXIT_OK);
    expect(terminal.waits).toEqual([5_000, 5_000, 5_000]);
    expect(terminal.closed).toBe(true);
    expect(result.out[0]).toBe(ANSI.enter);
    expect(result.out.at(-1)).toBe(ANSI.leave);
    const frames = result.out.slice(1, -1);
    expect(frames).toHaveLength(3);
    expect(frames[0]).toBe(redraw(renderTop(knownOverview(), { url: URL_, columns: 200, rows: 60 })));
    expect(frames[1]).toContain("! not ready; showing the last picture, retrying");
    expect(frames[1]).toContain("linux-bbbb0003");
  });

  it("stops on a refused token, and says why after leaving the alternate screen", async () => {
    const terminal = fakeTerminal(10);
    const result = await run(["top"], [json(401, { error: "wrong admin token" })], terminal);
    expect(result.code).toBe(EXIT_FAILED);
    expect(result.out).toEqual([ANSI.enter, ANSI.leave]);
    expect(result.stderr).toBe("error: wrong admin token\n");
    expect(terminal.closed).toBe(true);
  });
});
