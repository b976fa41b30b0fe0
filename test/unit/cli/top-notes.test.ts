import { describe, expect, it } from "vitest";
import type { InstallationView } from "../../../src/admin/api/installations.js";
import { EXIT_OK, runCli } from "../../../src/cli/run.js";
import { renderTop } from "../../../src/cli/top.js";
import { AT, knownOverview } from "../support/overview.js";

const URL_ = "http://127.0.0.1:3000";

function installation(id: string, budget: Partial<InstallationView["budget"]>): InstallationView {
  return {
    installation: id,
    scopes: [],
    runners: { starting: 0, idle: 0, busy: 0 },
    budget: { points: 10, burstPoints: 80, pausedForMs: 0, belowFloor: null, ...budget },
  };
}

/** knownOverview with the states top's notes are about: unmatched jobs, drain, labels, a pool no engine may serve. */
function eventfulOverview(): ReturnType<typeof knownOverview> {
  const known = knownOverview();
  const job = (jobId: number, labels: string[], nearestPool?: string, missing: string[] = []) => ({
    jobId,
    repository: "acme/app",
    labels,
    reason: labels.length === 0 ? ("no-labels" as const) : ("no-matching-pool" as const),
    ...(nearestPool ? { nearestPool } : {}),
    missing,
    at: AT - 1_000,
  });
  return {
    ...known,
    unmatched: [
      job(201, ["self-hosted", "linux", "huge"], "linux", ["huge"]),
      job(202, []),
      job(203, ["arm64"], "linux", ["arm64"]),
      job(204, ["arm64"], "linux", ["arm64"]),
    ],
    pools: known.pools.map((pool) =>
      pool.name === "gpu"
        ? {
            ...pool,
            placement: {
              rule: "pack" as const,
              engineLabels: ["gpu"],
              noEngine: {
                since: AT - 90_000,
                refused: [
                  { engine: "host-a", reason: "labels" as const },
                  { engine: "host-c", reason: "draining" as const },
                ],
              },
            },
          }
        : pool,
    ),
    engines: known.engines.map((engine) =>
      engine.name === "host-c" ? { ...engine, draining: true, labels: ["gpu"] } : engine,
    ),
  };
}

describe("runnerhub top notes", () => {
  const frame = renderTop(eventfulOverview(), {
    url: URL_,
    installations: [
      installation("7", { pausedForMs: 42_000, points: -5 }),
      installation("8", {}),
      installation("app", { belowFloor: 120 }),
    ],
  }).split("\n");

  it("lists queued jobs no pool serves under the queue line, at most three, with the nearest pool", () => {
    const at = frame.findIndex((line) => line.startsWith("! 4 queued jobs"));
    expect(frame.slice(at, at + 5)).toEqual([
      "! 4 queued jobs no pool serves:",
      "  job 201 acme/app [self-hosted,linux,huge] no-matching-pool; nearest pool linux lacks huge",
      "  job 202 acme/app [no labels] no-labels",
      "  job 203 acme/app [arm64] no-matching-pool; nearest pool linux lacks arm64",
      "  … 1 more (runnerhub jobs unmatched)",
    ]);
  });

  it("says how a pool is placed and why no engine may take its waiting jobs, under the pools", () => {
    const at = frame.findIndex((line) => line.startsWith("gpu "));
    expect(frame.slice(at + 1, at + 3)).toEqual([
      "  pool gpu places pack on engines labelled gpu",
      "! pool gpu: no engine may take its waiting jobs for 1m (host-a labels, host-c draining)",
    ]);
  });

  it("marks drained engines and shows engine labels, under the engines", () => {
    const at = frame.findIndex((line) => line.startsWith("host-c "));
    expect(frame[at + 1]).toBe("  engine host-c: DRAINING: starts no runner, its busy ones finish; labels gpu");
  });

  it("names installations paused by GitHub or below the hourly floor, and not the others", () => {
    expect(frame.filter((line) => line.includes("installation") || line.includes("app's own"))).toEqual([
      "! installation 7 paused 42s more after a GitHub rate-limit answer",
      "! the app's own calls: 120 GitHub requests left this hour, below RUNNERHUB_GITHUB_RATE_FLOOR",
    ]);
  });

  it("adds nothing to a quiet frame", () => {
    const quiet = renderTop(knownOverview(), { url: URL_, installations: [installation("7", {})] });
    expect(quiet).toBe(renderTop(knownOverview(), { url: URL_ }));
    expect(quiet).not.toContain("!");
  });

  it("reads GET /admin/installations for its notes, and shows the frame when an older server lacks it", async () => {
    const json = (status: number, body: unknown) =>
      new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
    const once = async (answers: Response[]) => {
      const out: string[] = [];
      const code = await runCli(
        ["top", "--once"],
        { url: URL_, token: "t" },
        {
          stdout: (text) => out.push(text),
          stderr: () => undefined,
          fetch: (async () => answers.shift() ?? json(500, {})) as unknown as typeof fetch,
          now: () => 0,
        },
      );
      return { code, text: out.join("") };
    };
    const paused = { installations: [installation("7", { pausedForMs: 5_000 })] };
    const withBudget = await once([json(200, knownOverview()), json(200, paused)]);
    expect(withBudget.code).toBe(EXIT_OK);
    expect(withBudget.text).toContain("\n! installation 7 paused 5s more after a GitHub rate-limit answer\n");
    const older = await once([json(200, knownOverview()), json(404, { error: "no such route" })]);
    expect(older).toEqual({ code: EXIT_OK, text: renderTop(knownOverview(), { url: URL_ }) });
  });
});
