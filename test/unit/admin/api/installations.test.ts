import { describe, expect, it } from "vitest";
import { installationViews } from "../../../../src/admin/api/installations.js";
import type { RunnerRecord } from "../../../../src/state/runner-store.js";

function runner(installationId: number, state: RunnerRecord["state"], completedAt?: number): RunnerRecord {
  return {
    name: `r-${installationId}-${state}-${completedAt ?? 0}`,
    pool: "linux",
    engine: "e1",
    installationId,
    scope: { kind: "org", org: `org${installationId}` },
    githubJobId: 1,
    runnerId: 1,
    containerId: undefined,
    state,
    busyJobId: undefined,
    createdAt: 0,
    completedAt,
  };
}

describe("installationViews", () => {
  it("gives each installation its scopes, live runners and own budget, the app's last", () => {
    const views = installationViews(
      [
        { installationId: 8, scope: { kind: "org", org: "globex" } },
        { installationId: 7, scope: { kind: "repo", owner: "acme", repo: "app" } },
        { installationId: 7, scope: { kind: "org", org: "acme" } },
      ],
      [runner(7, "busy"), runner(7, "idle"), runner(7, "busy", 5), runner(9, "starting")],
      new Map([
        ["7", { points: -40, pausedForMs: 3_000, belowFloor: 12 }],
        ["8", { points: 120, pausedForMs: 0, belowFloor: undefined }],
      ]),
      300,
    );
    expect(views.map((view) => view.installation)).toEqual(["7", "8", "9", "app"]);
    expect(views[0]).toEqual({
      installation: "7",
      scopes: ["acme", "acme/app"],
      runners: { starting: 0, idle: 1, busy: 1 },
      budget: { points: -40, burstPoints: 300, pausedForMs: 3_000, belowFloor: 12 },
    });
    expect(views[1]?.budget).toEqual({ points: 120, burstPoints: 300, pausedForMs: 0, belowFloor: null });
    // Runners only (its targets pruned): still listed; no figures read yet means a full bucket.
    expect(views[2]).toMatchObject({ scopes: [], runners: { starting: 1, idle: 0, busy: 0 } });
    expect(views[3]?.budget.points).toBe(300);
  });
});
