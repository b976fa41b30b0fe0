import { engineCapacity, formatAge, warmTargets } from "../admin/format.js";
import type { InstallationView } from "../admin/api/installations.js";
import type { Overview } from "../admin/schemas.js";
import type { FeedEntry } from "../state/event-feed.js";
import { formatTable } from "./format.js";
import { engineLines, installationLines, placementLines, unmatchedLines } from "./top-notes.js";

/** `runnerhub top`: one frame of the live picture, from an overview, without I/O. */

export interface FrameOptions {
  /** Where the overview came from, shown in the title. */
  url: string;
  /** The terminal's size; undefined: no limit (a pipe or a file). */
  columns?: number | undefined;
  rows?: number | undefined;
  /** A problem to show above the (last good) picture, such as a lost connection. */
  warning?: string | undefined;
  /** GET /admin/installations, when the server answered it (older servers lack it). */
  installations?: readonly InstallationView[] | undefined;
}

/** Timeline entries a frame shows at most (fewer when the terminal is short). */
export const TOP_EVENTS = 10;

const KIND_TEXT: Record<FeedEntry["kind"], string> = {
  queued: "queued",
  "runner-created": "created",
  "took-job": "took job",
  completed: "completed",
  crashed: "CRASHED",
  "oom-killed": "OOM-KILLED",
  removed: "removed",
  overflowed: "overflowed",
};

function clock(at: number): string {
  return new Date(at).toISOString().slice(11, 19);
}

/** A bar of `width` cells, `used` of `max` filled: [###.......]. */
export function bar(used: number, max: number, width = 10): string {
  const filled = max <= 0 ? 0 : Math.min(width, Math.round((used / max) * width));
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
}

function poolsTable(overview: Overview): string {
  if (overview.pools.length === 0) return "no pools\n";
  const targets = warmTargets(overview.history);
  return formatTable(
    ["POOL", "MAX", "MIN-IDLE", "STARTING", "IDLE", "TARGET", "BUSY", "WAITING", "PARKED", "SLOTS"],
    overview.pools.map((pool) => [
      pool.name,
      String(pool.limits.maxRunners),
      String(pool.limits.minIdle),
      String(pool.counts.starting),
      String(pool.counts.idle),
      String(targets.get(pool.name) ?? "-"),
      String(pool.counts.busy),
      String(pool.counts.waiting),
      String(pool.counts.parked),
      `${pool.counts.slotsHeld}/${pool.limits.maxRunners} ${bar(pool.counts.slotsHeld, pool.limits.maxRunners)}`,
    ]),
  );
}

/** Lines of a crash-looping pool's last runner shown in a frame (the API has more). */
const TOP_CRASH_LINES = 3;

/** A warning per crash-looping pool: why no runner is made, and the last lines of the runner that died last. */
function crashLoopLines(overview: Overview): string[] {
  return overview.pools.flatMap((pool) => {
    const loop = pool.crashLoop;
    if (!loop) return [];
    const exit = loop.lastExitCode === null ? loop.lastReason : `${loop.lastReason}, exit code ${loop.lastExitCode}`;
    const tail = loop.lastLines === "" ? [] : loop.lastLines.split("\n").slice(-TOP_CRASH_LINES);
    return [
      `! pool ${pool.name} crash-looping: ${loop.crashes} runners in a row ended before a job; next runner not before ${loop.backoffUntil.slice(11, 19)} UTC; last ${loop.lastRunner} (${exit})`,
      ...(loop.fix ? [`  fix: ${loop.fix}`] : []),
      ...tail.map((line) => `    ${line}`),
    ];
  });
}

function enginesTable(overview: Overview): string {
  if (overview.engines.length === 0) return "no engines known\n";
  return formatTable(
    ["ENGINE", "HEALTH", "STARTING", "IDLE", "BUSY", "CAPACITY", "LAST BEAT"],
    overview.engines.map((engine) => [
      engine.name,
      engine.health,
      String(engine.starting),
      String(engine.idle),
      String(engine.busy),
      engineCapacity(engine),
      engine.lastBeatMs === null ? "-" : `${formatAge(engine.lastBeatMs)} ago`,
    ]),
  );
}

function runnersTable(overview: Overview): string {
  if (overview.runners.length === 0) return "no runners\n";
  return formatTable(
    ["RUNNER", "POOL", "ENGINE", "STATE", "AGE", "JOB", "REPOSITORY"],
    overview.runners.map((runner) => [
      runner.name,
      runner.pool,
      runner.engine,
      runner.retiring ? `${runner.state} (retiring: ${runner.retiring})` : runner.state,
      formatAge(overview.at - runner.createdAt),
      String(runner.busyJobId ?? runner.jobId),
      runner.repository ?? "-",
    ]),
  );
}

function eventsTable(events: readonly FeedEntry[]): string {
  if (events.length === 0) return "no events yet\n";
  return formatTable(
    ["TIME", "EVENT", "RUNNER", "POOL", "JOB", "REPOSITORY", "REASON"],
    events.map((event) => [
      clock(event.at),
      KIND_TEXT[event.kind],
      event.runnerName ?? "-",
      event.pool,
      event.jobId === undefined ? "-" : String(event.jobId),
      event.repository ?? "-",
      event.reason ?? "",
    ]),
  );
}

/** One frame, as lines; cut to the terminal's width and height so a redraw never scrolls. */
export function renderTop(overview: Overview, options: FrameOptions): string {
  const counts = Object.entries(overview.queue.counts)
    .map(([state, count]) => `${state} ${count}`)
    .join("  ");
  const head = [
    `runnerhub top  ${options.url}  ${clock(overview.at)} UTC  (q or Ctrl-C quits)`,
    ...(options.warning ? [`! ${options.warning}`] : []),
    `queue ${overview.queue.queue}: ${counts}`,
    ...installationLines(options.installations ?? []),
    ...unmatchedLines(overview),
    "",
    ...poolsTable(overview).trimEnd().split("\n"),
    ...crashLoopLines(overview),
    ...placementLines(overview),
    "",
    ...enginesTable(overview).trimEnd().split("\n"),
    ...engineLines(overview),
    "",
    ...runnersTable(overview).trimEnd().split("\n"),
    "",
    "RECENT EVENTS",
  ];
  // A frame of as many lines as the terminal has rows would scroll it by one on the final newline.
  const maxLines = options.rows === undefined ? undefined : Math.max(1, options.rows - 1);
  // The timeline gets what room is left (below its header line), newest first.
  const room = maxLines === undefined ? TOP_EVENTS : Math.max(0, Math.min(TOP_EVENTS, maxLines - head.length - 1));
  const events = eventsTable(overview.events.slice(0, room)).trimEnd().split("\n");
  let lines = [...head, ...(room > 0 ? events : [])];
  if (maxLines !== undefined && lines.length > maxLines) {
    const hidden = lines.length - (maxLines - 1);
    lines = [...lines.slice(0, maxLines - 1), `… ${hidden} more lines (a taller terminal shows them)`];
  }
  const width = options.columns;
  return (
    lines.map((line) => (width !== undefined && line.length > width ? line.slice(0, width) : line)).join("\n") + "\n"
  );
}

/** Terminal control: alternate screen, cursor home, clear to end of line / screen. */
export const ANSI = {
  enter: "\u001b[?1049h\u001b[?25l",
  leave: "\u001b[?25h\u001b[?1049l",
  home: "\u001b[H",
  clearLine: "\u001b[K",
  clearBelow: "\u001b[J",
} as const;

/** A frame drawn over the previous one in place: each line clears its own tail, then the rest below. */
export function redraw(frame: string): string {
  const lines = frame.endsWith("\n") ? frame.slice(0, -1).split("\n") : frame.split("\n");
  return `${ANSI.home}${lines.map((line) => `${line}${ANSI.clearLine}`).join("\n")}\n${ANSI.clearBelow}`;
}
