import { formatAge } from "../admin/format.js";
import type { InstallationView } from "../admin/api/installations.js";
import type { EngineView, Overview, PoolView, UnmatchedJobView } from "../admin/schemas.js";

/**
 * `runnerhub top`'s compact notes: lines shown only while there is something to say (unmatched jobs,
 * drained or labelled engines, pools no engine may serve, installations held back by GitHub's limits),
 * so a quiet frame stays as short as before.
 */

/** Unmatched jobs a frame lists at most (GET /admin/jobs/unmatched has them all). */
export const TOP_UNMATCHED = 3;

function unmatchedLine(job: UnmatchedJobView): string {
  const labels = job.labels.length === 0 ? "no labels" : job.labels.join(",");
  const nearest =
    job.nearestPool === undefined ? "" : `; nearest pool ${job.nearestPool} lacks ${job.missing.join(",")}`;
  return `  job ${job.jobId} ${job.repository} [${labels}] ${job.reason}${nearest}`;
}

/** Queued jobs no pool serves, newest first: what they asked for and the pool nearest to it. */
export function unmatchedLines(overview: Overview): string[] {
  const jobs = overview.unmatched ?? [];
  if (jobs.length === 0) return [];
  const more =
    jobs.length > TOP_UNMATCHED ? [`  … ${jobs.length - TOP_UNMATCHED} more (runnerhub jobs unmatched)`] : [];
  return [
    `! ${jobs.length} queued job${jobs.length === 1 ? "" : "s"} no pool serves:`,
    ...jobs.slice(0, TOP_UNMATCHED).map(unmatchedLine),
    ...more,
  ];
}

function placementLine(pool: PoolView, at: number): string[] {
  const placement = pool.placement;
  if (!placement) return [];
  const rule =
    placement.rule === "pack" || placement.engineLabels.length > 0
      ? [
          `  pool ${pool.name} places ${placement.rule}${placement.engineLabels.length > 0 ? ` on engines labelled ${placement.engineLabels.join(",")}` : ""}`,
        ]
      : [];
  const none = placement.noEngine;
  if (!none) return rule;
  const refused = none.refused.map((r) => `${r.engine} ${r.reason}`).join(", ");
  return [
    ...rule,
    `! pool ${pool.name}: no engine may take its waiting jobs for ${formatAge(at - none.since)} (${refused || "no engine known"})`,
  ];
}

/** Pools placed other than the default (pack, or engine labels), and pools whose demand no live engine may take. */
export function placementLines(overview: Overview): string[] {
  return overview.pools.flatMap((pool) => placementLine(pool, overview.at));
}

function engineLine(engine: EngineView): string[] {
  const parts = [
    ...(engine.draining ? ["DRAINING: starts no runner, its busy ones finish"] : []),
    ...(engine.labels.length > 0 ? [`labels ${engine.labels.join(",")}`] : []),
  ];
  return parts.length === 0 ? [] : [`  engine ${engine.name}: ${parts.join("; ")}`];
}

/** Drained engines and engine labels (RUNNERHUB_ENGINE_LABELS), one line per engine that has either. */
export function engineLines(overview: Overview): string[] {
  return overview.engines.flatMap(engineLine);
}

/** Installations GitHub's limits hold back now: paused after a rate-limit answer, or below the hourly floor. */
export function installationLines(installations: readonly InstallationView[]): string[] {
  return installations.flatMap((view) => {
    const { pausedForMs, belowFloor } = view.budget;
    const who = view.installation === "app" ? "the app's own calls" : `installation ${view.installation}`;
    return [
      ...(pausedForMs > 0 ? [`! ${who} paused ${formatAge(pausedForMs)} more after a GitHub rate-limit answer`] : []),
      ...(belowFloor !== null
        ? [`! ${who}: ${belowFloor} GitHub requests left this hour, below RUNNERHUB_GITHUB_RATE_FLOOR`]
        : []),
    ];
  });
}
