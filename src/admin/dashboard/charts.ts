import { html, type Html } from "../../http/html.js";
import type { PoolHistoryView } from "../schemas.js";

/**
 * Each pool's last hour as SVG drawn on the server: no script and no inline style (the page's CSP
 * allows neither), colours from the style sheet by class. Pure functions over the history, so
 * they are unit-tested.
 */

const WIDTH = 640;
const HEIGHT = 200;
const MARGIN = { left: 44, right: 12, top: 12, bottom: 24 };
const MINUTE_MS = 60_000;
/** A pool with a shorter history (a fresh start) is drawn over at least this span, not squeezed into the hour's right edge. */
const MIN_SPAN_MS = 5 * MINUTE_MS;
/** Time-axis steps, the first that gives at most six labels is used. */
const TICK_STEPS_MS = [1, 2, 5, 10, 15, 30].map((minutes) => minutes * MINUTE_MS);

type Sample = PoolHistoryView["samples"][number];

/** The plot's frame: the time it spans and the highest value it shows. */
interface Frame {
  from: number;
  to: number;
  max: number;
}

/** The smallest of 1, 2, 5 × 10^k at least `value` (at least `floor`): the top of a readable axis. */
export function niceCeiling(value: number, floor = 1): number {
  const target = Math.max(value, floor);
  const power = 10 ** Math.floor(Math.log10(target));
  const step = [1, 2, 5, 10].find((factor) => factor * power >= target) ?? 10;
  return step * power;
}

const round = (value: number) => Math.round(value * 10) / 10;

function xOf(frame: Frame, at: number): number {
  const span = Math.max(1, frame.to - frame.from);
  const clamped = Math.min(Math.max(at, frame.from), frame.to);
  return round(MARGIN.left + ((clamped - frame.from) / span) * (WIDTH - MARGIN.left - MARGIN.right));
}

function yOf(frame: Frame, value: number): number {
  const plot = HEIGHT - MARGIN.top - MARGIN.bottom;
  return round(HEIGHT - MARGIN.bottom - (Math.min(value, frame.max) / frame.max) * plot);
}

function hhmm(at: number): string {
  return new Date(at).toISOString().slice(11, 16);
}

/**
 * The time the charts of a pool span: its window, from the first thing it holds (at least
 * MIN_SPAN_MS back), so both charts of a pool share one time axis.
 */
export function timeSpan(history: PoolHistoryView): { from: number; to: number } {
  const first = Math.min(
    history.to - MIN_SPAN_MS,
    ...history.samples.map((sample) => sample.at),
    ...history.pickups.map((point) => point.at),
  );
  return { from: Math.max(history.from, first), to: history.to };
}

/** Grid lines and labels: the value axis at 0, half and top; the time axis in whole minutes (UTC). */
function axes(frame: Frame, unit: string): Html {
  const values = [0, frame.max / 2, frame.max];
  const span = frame.to - frame.from;
  const step = TICK_STEPS_MS.find((ms) => span / ms <= 6) ?? 60 * MINUTE_MS;
  const times: number[] = [];
  for (let at = Math.ceil(frame.from / step) * step; at <= frame.to; at += step) times.push(at);
  return html`<g class="axis">
    ${values.map(
      (value) =>
        html`<line
            x1="${MARGIN.left}"
            x2="${WIDTH - MARGIN.right}"
            y1="${yOf(frame, value)}"
            y2="${yOf(frame, value)}"
          />
          <text x="${MARGIN.left - 4}" y="${yOf(frame, value) + 4}" text-anchor="end">${round(value)}${unit}</text>`,
    )}
    ${times.map((at) => html`<text x="${xOf(frame, at)}" y="${HEIGHT - 6}" text-anchor="middle">${hhmm(at)}</text>`)}
  </g>`;
}

/** A value held from each point until the next (the last until `to`), as an SVG path. */
function stepLine(frame: Frame, points: readonly { at: number; value: number }[]): string {
  return points
    .map((point, index) => {
      const until = points[index + 1]?.at ?? frame.to;
      const y = yOf(frame, point.value);
      return `${index === 0 ? "M" : "L"}${xOf(frame, point.at)} ${y} H${xOf(frame, until)}`;
    })
    .join(" ");
}

/** The band between two step lines (upper and lower per point), closed, as an SVG path. */
function stepBand(frame: Frame, points: readonly { at: number; lower: number; upper: number }[]): string {
  const top = stepLine(
    frame,
    points.map((point) => ({ at: point.at, value: point.upper })),
  );
  const bottom = [...points]
    .reverse()
    .map((point, index, reversed) => {
      const until = reversed[index - 1]?.at ?? frame.to;
      const y = yOf(frame, point.lower);
      return `L${xOf(frame, until)} ${y} H${xOf(frame, point.at)}`;
    })
    .join(" ");
  return `${top} ${bottom} Z`;
}

function legend(entries: readonly [cls: string, label: string][]): Html {
  return html`<ul class="legend">
    ${entries.map(([cls, label]) => html`<li><span class="key ${cls}"></span>${label}</li>`)}
  </ul>`;
}

function svg(id: string, title: string, description: string, body: Html): Html {
  return html`<svg
    viewBox="0 0 ${WIDTH} ${HEIGHT}"
    role="img"
    aria-labelledby="${id}-title ${id}-desc"
    preserveAspectRatio="xMidYMid meet"
  >
    <title id="${id}-title">${title}</title>
    <desc id="${id}-desc">${description}</desc>
    ${body}
  </svg>`;
}

/** Pickup time (queued webhook to in_progress) per minute: median and 95th percentile, with a dot per minute. */
export function pickupChart(history: PoolHistoryView): Html {
  const id = `pickup-${history.pool}`;
  if (history.pickups.length === 0) {
    return html`<p class="chart-empty">No job of pool ${history.pool} was picked up in the last hour.</p>`;
  }
  const frame: Frame = {
    ...timeSpan(history),
    max: niceCeiling(Math.max(...history.pickups.map((point) => point.p95))),
  };
  const series = (key: "p50" | "p95") => {
    const points = history.pickups.map((point) => `${xOf(frame, point.at)},${yOf(frame, point[key])}`);
    return html`<polyline class="line ${key}" points="${points.join(" ")}" /> ${history.pickups.map(
        (point) =>
          html`<circle class="dot ${key}" cx="${xOf(frame, point.at)}" cy="${yOf(frame, point[key])}" r="3">
            <title>${hhmm(point.at)} UTC: ${key} ${point[key].toFixed(2)} s over ${point.jobs} jobs</title>
          </circle>`,
      )}`;
  };
  const last = history.pickups[history.pickups.length - 1];
  const jobs = history.pickups.reduce((sum, point) => sum + point.jobs, 0);
  const description = last
    ? `${jobs} jobs picked up in the last hour; latest minute with jobs (${hhmm(last.at)} UTC): p50 ${last.p50.toFixed(2)} s, p95 ${last.p95.toFixed(2)} s.`
    : "";
  return html`<figure
    class="chart"
    data-chart="pickup"
    data-pool="${history.pool}"
    data-points="${history.pickups.length}"
  >
    ${svg(id, `Pickup time of pool ${history.pool}, last hour`, description, html`${axes(frame, "s")}${series("p95")}${series("p50")}`)}
    <figcaption>
      Pickup time, queued → in_progress (per minute)
      ${legend([
        ["p50", "median"],
        ["p95", "95th percentile"],
      ])}
    </figcaption>
  </figure>`;
}

/** Runners by state, stacked (busy, idle, starting), with the jobs waiting and the warm target drawn over them. */
export function runnersChart(history: PoolHistoryView): Html {
  const id = `runners-${history.pool}`;
  const samples = history.samples;
  if (samples.length === 0) {
    return html`<p class="chart-empty">No sample of pool ${history.pool} yet (one is taken every 15 s).</p>`;
  }
  const highest = Math.max(
    ...samples.map((sample) => Math.max(sample.busy + sample.idle + sample.starting, sample.waiting, sample.target)),
  );
  const frame: Frame = { ...timeSpan(history), max: niceCeiling(highest) };
  const band = (cls: string, lower: (s: Sample) => number, height: (s: Sample) => number) =>
    html`<path
      class="band ${cls}"
      d="${stepBand(
        frame,
        samples.map((sample) => ({ at: sample.at, lower: lower(sample), upper: lower(sample) + height(sample) })),
      )}"
    />`;
  const line = (cls: string, value: (s: Sample) => number) =>
    html`<path
      class="line ${cls}"
      d="${stepLine(
        frame,
        samples.map((sample) => ({ at: sample.at, value: value(sample) })),
      )}"
    />`;
  const last = samples[samples.length - 1];
  const description = last
    ? `At ${hhmm(last.at)} UTC: ${last.busy} busy, ${last.idle} idle, ${last.starting} starting, ${last.waiting} jobs waiting, warm target ${last.target}.`
    : "";
  const body = html`${axes(frame, "")}
  ${band(
    "busy",
    () => 0,
    (s) => s.busy,
  )}
  ${band(
    "idle",
    (s) => s.busy,
    (s) => s.idle,
  )}
  ${band(
    "starting",
    (s) => s.busy + s.idle,
    (s) => s.starting,
  )}
  ${line("waiting", (s) => s.waiting)} ${line("target", (s) => s.target)}`;
  return html`<figure class="chart" data-chart="runners" data-pool="${history.pool}" data-points="${samples.length}">
    ${svg(id, `Runners of pool ${history.pool} by state, last hour`, description, body)}
    <figcaption>
      Runners by state, jobs waiting and the warm target
      ${legend([
        ["busy", "busy"],
        ["idle", "idle"],
        ["starting", "starting"],
        ["waiting", "jobs waiting"],
        ["target", "warm target"],
      ])}
    </figcaption>
  </figure>`;
}

/** Both charts of every pool, a pool a row (below the pools table, in its live section). */
export function historyCharts(histories: readonly PoolHistoryView[]): Html {
  if (histories.length === 0) return html``;
  return html`${histories.map(
    (history) =>
      html`<div class="pool-charts" data-pool="${history.pool}">
        <h3>Pool ${history.pool}: the last hour (UTC)</h3>
        <div class="charts">${pickupChart(history)}${runnersChart(history)}</div>
      </div>`,
  )}`;
}
