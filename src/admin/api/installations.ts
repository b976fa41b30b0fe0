import { z } from "zod";
import { APP_BUDGET, type GitHubBudget, type InstallationBudgetFigures } from "../../github/budget.js";
import { describeScope, type RunnerTarget } from "../../scope/runner-scope.js";
import type { RunnerRecord } from "../../state/runner-store.js";
import type { Routes } from "./reply.js";

const count = z.number().int().nonnegative();

export const installationViewSchema = z.object({
  /** GitHub's installation id, or "app" for the calls made with the app's JWT. */
  installation: z.string(),
  /** The organizations and repositories it queued jobs for in the last 24 hours. */
  scopes: z.array(z.string()),
  /** Its live runners (starting, idle, busy) across every engine. */
  runners: z.object({ starting: count, idle: count, busy: count }),
  budget: z.object({
    /** Secondary-limit points left in its bucket now (negative while paused: what must refill first). */
    points: z.number(),
    /** RUNNERHUB_GITHUB_BURST: the bucket's size. */
    burstPoints: count,
    /** Ms its pause after a rate-limit answer still lasts; 0: not paused. */
    pausedForMs: count,
    /** Requests left in GitHub's hourly limit when below RUNNERHUB_GITHUB_RATE_FLOOR, else null. */
    belowFloor: count.nullable(),
  }),
});
export type InstallationView = z.output<typeof installationViewSchema>;

export const installationsResponseSchema = z.object({ installations: z.array(installationViewSchema) });

/**
 * One view per installation runnerhub serves (from the targets webhooks named, and live runners),
 * the app's own budget last; installations in numeric order.
 */
export function installationViews(
  targets: readonly RunnerTarget[],
  records: readonly RunnerRecord[],
  figures: ReadonlyMap<string, InstallationBudgetFigures>,
  burstPoints: number,
): InstallationView[] {
  const ids = [
    ...new Set([...targets.map((target) => target.installationId), ...records.map((r) => r.installationId)]),
  ].sort((a, b) => a - b);
  const view = (installation: string, scopes: string[], live: readonly RunnerRecord[]): InstallationView => {
    const budget = figures.get(installation) ?? { points: burstPoints, pausedForMs: 0, belowFloor: undefined };
    return {
      installation,
      scopes,
      runners: {
        starting: live.filter((r) => r.state === "starting").length,
        idle: live.filter((r) => r.state === "idle").length,
        busy: live.filter((r) => r.state === "busy").length,
      },
      budget: {
        points: budget.points,
        burstPoints,
        pausedForMs: budget.pausedForMs,
        belowFloor: budget.belowFloor ?? null,
      },
    };
  };
  const live = records.filter((r) => r.completedAt === undefined);
  return [
    ...ids.map((id) =>
      view(
        String(id),
        [...new Set(targets.filter((t) => t.installationId === id).map((t) => describeScope(t.scope)))].sort(),
        live.filter((r) => r.installationId === id),
      ),
    ),
    view(APP_BUDGET, [], []),
  ];
}

export interface InstallationApiDeps {
  budget: Pick<GitHubBudget, "figures">;
  /** RUNNERHUB_GITHUB_BURST, each bucket's size. */
  burstPoints: number;
  ledger: { targets(now: number): Promise<RunnerTarget[]> };
  runners: { list(): Promise<RunnerRecord[]> };
  now: () => number;
}

/** Each installation's GitHub budget, pause and floor, and its runners (GitHub keeps limits per installation). */
export function installationRoutes(deps: InstallationApiDeps): Routes<"GET /admin/installations"> {
  return {
    async "GET /admin/installations"() {
      const [targets, records] = await Promise.all([deps.ledger.targets(deps.now()), deps.runners.list()]);
      const names = [
        ...new Set([...targets.map((t) => t.installationId), ...records.map((r) => r.installationId)]),
      ].map(String);
      const figures = new Map(
        await Promise.all([...names, APP_BUDGET].map(async (name) => [name, await deps.budget.figures(name)] as const)),
      );
      return {
        status: 200,
        body: { installations: installationViews(targets, records, figures, deps.burstPoints) },
      };
    },
  };
}
