import type { FeedEntry, FeedEventKind } from "../../state/event-feed.js";
import { BULL_BOARD_PATH } from "../api/spec.js";
import { html, type Html } from "../../http/html.js";
import type { EngineView, Overview, PoolView, RunnerDetail, RunnerView, UnmatchedJobView } from "../schemas.js";
import { engineCapacity, formatAge, formatBytes, warmTargets } from "../format.js";
import { historyCharts } from "./charts.js";

/**
 * The dashboard's HTML, rendered from an overview without I/O. The server renders whole pages
 * (they work without JavaScript); the live stream sends the same section renderings, which the
 * page's small script swaps in, so there is one renderer and it is unit-tested.
 */

export const ADMIN_HOME = "/admin";
export const LOGIN_PATH = "/admin/login";
export const LOGOUT_PATH = "/admin/logout";
export const EVENTS_PATH = "/admin/events";
export const SCRIPT_PATH = "/admin/assets/dashboard.js";
export const STYLE_PATH = "/admin/assets/dashboard.css";

export const SECTION_IDS = ["pools", "engines", "queue", "runners", "events"] as const;
export type SectionId = (typeof SECTION_IDS)[number];

const KIND_LABELS: Record<FeedEventKind, string> = {
  queued: "job queued",
  "runner-created": "runner created",
  "took-job": "took job",
  completed: "job completed",
  crashed: "crashed",
  "oom-killed": "OOM-killed",
  removed: "removed",
  overflowed: "overflowed",
};

export function runnerPath(name: string): string {
  return `/admin/runners/${encodeURIComponent(name)}`;
}

function clock(at: number): Html {
  const iso = new Date(at).toISOString();
  return html`<time datetime="${iso}">${iso.slice(11, 19)}</time>`;
}

/** An age that the page's script keeps counting between updates. */
function age(since: number, now: number): Html {
  return html`<time datetime="${new Date(since).toISOString()}" data-since="${since}">${formatAge(now - since)}</time>`;
}

function badge(state: string, text = state): Html {
  return html`<span class="badge badge-${state}">${text}</span>`;
}

function num(value: number | null): Html {
  return html`<td class="num">${value ?? "–"}</td>`;
}

/** A column heading: a label, or `{ num: label }` for a column of numbers (aligned right). */
type Column = string | { num: string };

/** One of the dashboard's tables: caption, column headings, then the rows. */
function table(caption: Html | string, columns: readonly Column[], rows: readonly Html[]): Html {
  const headings = columns.map((column) =>
    typeof column === "string"
      ? html`<th scope="col">${column}</th>`
      : html`<th scope="col" class="num">${column.num}</th>`,
  );
  return html`<table>
    <caption>
      ${caption}
    </caption>
    <thead>
      <tr>
        ${headings}
      </tr>
    </thead>
    <tbody>
      ${rows}
    </tbody>
  </table>`;
}

/** Why a crash-looping pool makes no runners now: the loop, the last runner that died and its last lines. */
function crashLoopNote(pool: PoolView): Html | "" {
  const loop = pool.crashLoop;
  if (!loop) return "";
  const exit = loop.lastExitCode === null ? loop.lastReason : `${loop.lastReason}, exit code ${loop.lastExitCode}`;
  return html`<div class="crash-loop" data-crash-loop="${pool.name}">
    <p>
      ${badge("crash-looping")} Pool <strong>${pool.name}</strong>: ${loop.crashes} runners in a row ended before taking
      a job; no runner is made before
      <time datetime="${loop.backoffUntil}">${loop.backoffUntil.slice(11, 19)}</time> UTC (backoff ${loop.backoffs}).
      Last: <a href="${runnerPath(loop.lastRunner)}">${loop.lastRunner}</a> (${exit}).
    </p>
    ${loop.fix ? html`<p class="fix" data-fix="${pool.name}"><strong>Fix:</strong> ${loop.fix}</p>` : ""}
    <pre tabindex="0">${loop.lastLines || "(no log lines kept)"}</pre>
  </div>`;
}

/** A fair-share pool's repositories: what each holds and waits for, against the per-repository ceiling. */
function fairShareTable(pool: PoolView): Html | "" {
  const share = pool.fairShare;
  if (!share) return "";
  const rows = share.repositories.map(
    (entry) =>
      html`<tr data-repository="${entry.repository}">
        <th scope="row">${entry.repository}</th>
        ${num(entry.running)}${num(entry.waiting)}${num(entry.parked)}
      </tr>`,
  );
  return html`<div data-fair-share="${pool.name}">
    ${table(
      html`Pool <strong>${pool.name}</strong> per repository: at most ${share.maxRunnersPerRepository} runners each;
        waiting jobs start round-robin by repository`,
      ["Repository", { num: "Running" }, { num: "Waiting" }, { num: "Parked" }],
      rows,
    )}
  </div>`;
}

/** Idle runners against the warm target ("–" while the target is not known). */
function warmCell(idle: number, target: number | undefined): Html {
  const state = target === undefined ? "unknown" : idle < target ? "below" : "met";
  return html`<td class="num" data-warm="${state}">${idle} / ${target ?? "–"}</td>`;
}

/** Where the pool's jobs go when it cannot start them now (pools file `overflow`). */
function overflowNote(pool: PoolView): Html | "" {
  return pool.overflow ? html` <small data-overflow="${pool.overflow}">overflows to ${pool.overflow}</small>` : "";
}

function poolsTable(pools: readonly PoolView[], targets: ReadonlyMap<string, number>): Html {
  if (pools.length === 0) return html`<p>No pools are configured.</p>`;
  const rows = pools.map((pool) => {
    const { limits, counts } = pool;
    return html`<tr data-pool="${pool.name}" data-health="${pool.health}">
      <th scope="row">${pool.name}${pool.health === "ok" ? "" : html` ${badge(pool.health)}`}${overflowNote(pool)}</th>
      <td>${pool.labels.join(", ")}</td>
      ${num(limits.maxRunners)}${num(limits.minIdle)}${num(counts.starting)}${num(counts.idle)}${num(counts.busy)}${num(counts.waiting)}${num(counts.parked)}
      <td class="num">
        <meter
          min="0"
          max="${Math.max(limits.maxRunners, 1)}"
          value="${counts.slotsHeld}"
          aria-label="slots of ${pool.name} in use"
        >
          ${counts.slotsHeld} of ${limits.maxRunners}
        </meter>
        ${counts.slotsHeld}/${limits.maxRunners}
      </td>
      ${warmCell(counts.idle, targets.get(pool.name))}
    </tr>`;
  });
  const limitsTable = table(
    "Limits and live counts per pool",
    [
      "Pool",
      "Labels",
      { num: "Max" },
      { num: "Min idle" },
      { num: "Starting" },
      { num: "Idle" },
      { num: "Busy" },
      { num: "Waiting" },
      { num: "Parked" },
      { num: "Slots used" },
      { num: "Idle / warm target" },
    ],
    rows,
  );
  return html`${limitsTable}${pools.map(crashLoopNote)}${pools.map(noEngineNote)}${pools.map(fairShareTable)}`;
}

/** What an engine's runners reserve of a resource, and what is left ("–" when its worker published none). */
function resourceCell(resource: EngineView["memory"], show: (value: number) => string): Html {
  if (!resource) return html`<td class="num">–</td>`;
  return html`<td class="num" data-free="${resource.free}">${show(resource.reserved)} / ${show(resource.free)}</td>`;
}

/** A pool whose waiting jobs no live engine may take, with each engine's reason. */
function noEngineNote(pool: PoolView): Html | "" {
  const noEngine = pool.placement?.noEngine;
  if (!noEngine) return "";
  const reasons = noEngine.refused.map(({ engine, reason }) => `${engine}: ${reason}`).join("; ");
  return html`<p class="no-engine" data-no-engine="${pool.name}">
    ${badge("no-engine", "no engine")} Pool <strong>${pool.name}</strong> has waiting jobs that no live engine may take
    (${reasons || "no engine has reported"}); they start once an engine with the labels
    ${pool.placement?.engineLabels.join(", ") || "(none)"} and room comes, or one is undrained.
  </p>`;
}

function enginesTable(engines: readonly EngineView[], now: number): Html {
  if (engines.length === 0) return html`<p>No worker has reported an engine yet.</p>`;
  const rows = engines.map(
    (engine) =>
      html`<tr data-engine="${engine.name}">
        <th scope="row">${engine.name}</th>
        <td>${badge(engine.health)}${engine.draining ? html` ${badge("draining")}` : ""}</td>
        ${num(engine.starting)}${num(engine.idle)}${num(engine.busy)}
        <td class="num">${engineCapacity(engine)}</td>
        ${resourceCell(engine.memory, formatBytes)}${resourceCell(engine.cpus, String)}
        <td>${engine.labels.join(", ") || "–"}</td>
        <td>${engine.lastBeatMs === null ? "–" : html`${age(now - engine.lastBeatMs, now)} ago`}</td>
      </tr>`,
  );
  return table(
    "Docker engines: every worker's heartbeat, and the engine of the process serving this page (pinged)",
    [
      "Engine",
      "Health",
      { num: "Starting" },
      { num: "Idle" },
      { num: "Busy" },
      { num: "Capacity" },
      { num: "Memory reserved / free" },
      { num: "CPUs reserved / free" },
      "Labels",
      "Last heartbeat",
    ],
    rows,
  );
}

function queueTable(queue: Overview["queue"]): Html {
  const states = Object.entries(queue.counts);
  return table(
    html`Provision queue <code>${queue.queue}</code>`,
    states.map(([state]) => ({ num: state.charAt(0).toUpperCase() + state.slice(1) })),
    [
      html`<tr>
        ${states.map(([state, count]) => html`<td class="num" data-queue-state="${state}">${count}</td>`)}
      </tr>`,
    ],
  );
}

const UNMATCHED_REASONS: Record<UnmatchedJobView["reason"], string> = {
  "no-matching-pool": "no pool carries every label",
  "no-labels": "no labels (runs-on: group?) and no groupDefault pool",
};

/** Queued jobs no pool serves: their labels, why, and the pool they come closest to. */
function unmatchedTable(jobs: readonly UnmatchedJobView[] | undefined): Html | "" {
  if (!jobs || jobs.length === 0) return "";
  const rows = jobs.map(
    (job) =>
      html`<tr data-unmatched-job="${job.jobId}" data-reason="${job.reason}">
        <th scope="row" class="num">${job.jobId}</th>
        <td>${job.repository}</td>
        <td>${job.labels.length > 0 ? job.labels.join(", ") : "–"}</td>
        <td>${UNMATCHED_REASONS[job.reason]}</td>
        <td data-nearest-pool="${job.nearestPool ?? ""}">
          ${job.nearestPool ? html`${job.nearestPool} <small>lacks ${job.missing.join(", ")}</small>` : "–"}
        </td>
        <td>${clock(job.at)}</td>
      </tr>`,
  );
  return table(
    "Unmatched jobs: queued, and no pool serves them",
    [{ num: "Job" }, "Repository", "Labels", "Reason", "Nearest pool", "Queued (UTC)"],
    rows,
  );
}

function runnerState(runner: RunnerView): Html {
  return runner.retiring
    ? html`${badge(runner.state)} <small>retiring: ${runner.retiring}</small>`
    : badge(runner.state);
}

function runnersTable(runners: readonly RunnerView[], now: number): Html {
  if (runners.length === 0) return html`<p>No live runners.</p>`;
  const rows = runners.map(
    (runner) =>
      html`<tr data-runner="${runner.name}" data-state="${runner.state}">
        <th scope="row"><a href="${runnerPath(runner.name)}">${runner.name}</a></th>
        <td>${runner.pool}</td>
        <td>${runner.engine}</td>
        <td>${runnerState(runner)}</td>
        <td>${age(runner.createdAt, now)}</td>
        <td class="num">${runner.busyJobId ?? runner.jobId}</td>
        <td>${runner.repository ?? "–"}</td>
      </tr>`,
  );
  return table(
    "Live runners, by pool then age",
    ["Runner", "Pool", "Engine", "State", "Age", { num: "Job" }, "Repository"],
    rows,
  );
}

function eventLine(event: FeedEntry, linkRunner: boolean): Html {
  const runner = event.runnerName
    ? linkRunner
      ? html` runner <a href="${runnerPath(event.runnerName)}">${event.runnerName}</a>`
      : html` runner ${event.runnerName}`
    : "";
  return html`<li data-kind="${event.kind}" ${event.runnerName ? html` data-runner="${event.runnerName}"` : ""}>
    ${clock(event.at)} ${badge(event.kind, KIND_LABELS[event.kind])}${runner} · pool
    ${event.pool}${event.jobId !== undefined ? html` · job ${event.jobId}` : ""}${event.repository ? html` · ${event.repository}` : ""}${event.reason ? html` · <em>${event.reason}</em>` : ""}
  </li>`;
}

export function eventList(events: readonly FeedEntry[], linkRunner = true): Html {
  if (events.length === 0) return html`<p>Nothing happened yet.</p>`;
  return html`<ol class="events" reversed>
    ${events.map((event) => eventLine(event, linkRunner))}
  </ol>`;
}

export function renderSections(overview: Overview): Record<SectionId, Html> {
  return {
    pools: html`${poolsTable(overview.pools, warmTargets(overview.history))}${historyCharts(overview.history)}`,
    engines: enginesTable(overview.engines, overview.at),
    queue: html`${queueTable(overview.queue)}${unmatchedTable(overview.unmatched)}`,
    runners: runnersTable(overview.runners, overview.at),
    events: eventList(overview.events),
  };
}

function layout(title: string, body: Html, options: { script?: boolean; signedIn?: boolean } = {}): Html {
  const nav = options.signedIn
    ? html`<nav aria-label="Admin">
        <ul>
          <li><a href="${ADMIN_HOME}">Dashboard</a></li>
          <li><a href="${BULL_BOARD_PATH}">Queues (Bull Board)</a></li>
          <li><a href="/admin/openapi.json">API (OpenAPI)</a></li>
          <li>
            <form method="post" action="${LOGOUT_PATH}"><button type="submit">Log out</button></form>
          </li>
        </ul>
      </nav>`
    : "";
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title}</title>
        <link rel="stylesheet" href="${STYLE_PATH}" />
        ${options.script ? html`<script src="${SCRIPT_PATH}" defer></script>` : ""}
      </head>
      <body>
        <header>
          <p class="brand">runnerhub</p>
          ${nav}
        </header>
        <main id="main">${body}</main>
      </body>
    </html> `;
}

export function renderDashboard(overview: Overview): Html {
  const sections = renderSections(overview);
  const titles: Record<SectionId, string> = {
    pools: "Pools",
    engines: "Engines",
    queue: "Queue",
    runners: "Runners",
    events: "Recent events (UTC)",
  };
  const section = (id: SectionId) =>
    html`<section aria-labelledby="${id}-title" id="${id}">
      <h2 id="${id}-title">${titles[id]}</h2>
      <div data-live="${id}" ${id === "events" ? html` aria-live="polite"` : ""}>${sections[id]}</div>
    </section>`;
  return layout(
    "runnerhub dashboard",
    html`<h1>Dashboard</h1>
      <p id="live-status" role="status">Snapshot taken ${clock(overview.at)} UTC. Reload the page for fresh figures.</p>
      <div class="grid">${section("pools")} ${section("queue")} ${section("engines")}</div>
      ${section("runners")} ${section("events")}`,
    { script: true, signedIn: true },
  );
}

export function renderLogin(options: { next: string; error?: string | undefined }): Html {
  const error = options.error ? html`<p id="login-error" class="error" role="alert">${options.error}</p>` : "";
  return layout(
    "Log in · runnerhub",
    html`<h1>Log in</h1>
      <form method="post" action="${LOGIN_PATH}" class="login">
        ${error}
        <label for="token">Admin token (<code>ADMIN_TOKEN</code>)</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="current-password"
          required
          autofocus${options.error ? html` aria-invalid="true" aria-describedby="login-error"` : ""}
        />
        <input type="hidden" name="next" value="${options.next}" />
        <button type="submit">Log in</button>
      </form>`,
  );
}

export interface RunnerPage {
  name: string;
  /** The runner as GET /admin/runners/{name} shows it; undefined when it is not known. */
  detail: RunnerDetail | undefined;
  /** This runner's timeline entries, newest first. */
  events: readonly FeedEntry[];
  now: number;
}

function facts(rows: [string, Html | string | number | null | undefined][]): Html {
  return html`<dl class="facts">
    ${rows
      .filter(([, value]) => value !== undefined && value !== null && value !== "")
      .map(
        ([term, value]) =>
          html`<dt>${term}</dt>
            <dd>${value}</dd>`,
      )}
  </dl>`;
}

function runnerFacts(runner: RunnerDetail, now: number): Html {
  const state = runner.state === "exited" ? badge("exited") : runnerState({ ...runner, state: runner.state });
  return facts([
    ["State", state],
    ["Pool", runner.pool],
    ["Engine", runner.engine],
    ["Created", html`${clock(runner.createdAt)} UTC (${formatAge(now - runner.createdAt)} ago)`],
    ["Job it was made for", runner.jobId],
    ["Job it took", runner.busyJobId],
    ["Repository", runner.repository],
    ["GitHub runner id", runner.runnerId],
    ["Container", runner.containerId?.slice(0, 12)],
    ["Peak memory", runner.usage ? formatBytes(runner.usage.peakMemoryBytes) : undefined],
    ["CPU time", runner.usage ? `${runner.usage.cpuSeconds.toFixed(1)} s` : undefined],
    ["Job re-run", runner.rerun ? `on pool ${runner.rerun.pool}, ${formatAge(now - runner.rerun.at)} ago` : undefined],
  ]);
}

export function renderRunnerPage(page: RunnerPage): Html {
  const runner = page.detail;
  const exit = runner?.exit
    ? html`<section aria-labelledby="exit-title">
        <h2 id="exit-title">Exit</h2>
        ${facts([
          ["Reason", badge(runner.exit.oomKilled ? "oom-killed" : runner.exit.reason, runner.exit.reason)],
          ["Exit code", runner.exit.exitCode ?? "none (container gone)"],
          ["OOM-killed", runner.exit.oomKilled ? "yes" : "no"],
          ["Exited", html`${clock(runner.exit.at)} UTC`],
        ])}
      </section>`
    : "";
  const logsPath = `${runnerPath(page.name)}/logs`;
  const logs = !runner
    ? ""
    : runner.logs !== null
      ? html`<section aria-labelledby="logs-title">
          <h2 id="logs-title">Last log lines</h2>
          <pre tabindex="0">${runner.logs || "(none kept)"}</pre>
        </section>`
      : runner.state !== "exited"
        ? html`<p><a href="${logsPath}">Its log so far</a> (plain text, secrets masked).</p>`
        : "";
  return layout(
    `${page.name} · runnerhub`,
    html`<p><a href="${ADMIN_HOME}">← Dashboard</a></p>
      <h1>Runner <code>${page.name}</code></h1>
      ${
        runner
          ? runnerFacts(runner, page.now)
          : html`<p>No runner named <code>${page.name}</code> is live or exited within the last day.</p>`
      }
      ${exit} ${logs}
      <section aria-labelledby="timeline-title">
        <h2 id="timeline-title">Timeline</h2>
        ${eventList(page.events, false)}
      </section>`,
    { signedIn: true },
  );
}
