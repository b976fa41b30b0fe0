import { describe, expect, it } from "vitest";
import {
  historyCharts,
  niceCeiling,
  pickupChart,
  runnersChart,
  timeSpan,
} from "../../../../src/admin/dashboard/charts.js";
import { renderDashboard, renderSections } from "../../../../src/admin/dashboard/pages.js";
import { AT, knownHistory, knownOverview } from "../../support/overview.js";

const [linux, gpu] = knownHistory();
if (!linux || !gpu) throw new Error("the known history has two pools");

/** Markup with its layout whitespace taken out (as in pages.test.ts). */
const flat = (markup: { text: string }) => markup.text.replace(/\s+/g, " ").replace(/>\s+</g, "><");

/** The value of one attribute of every element matching `selector` (tag and class), in order. */
function attributes(markup: string, tag: string, cls: string, attribute: string): string[] {
  const elements = [...markup.matchAll(new RegExp(`<${tag}\\b[^>]*class="${cls}"[^>]*>`, "g"))];
  return elements.map((match) => new RegExp(`\\b${attribute}="([^"]*)"`).exec(match[0])?.[1] ?? "");
}

describe("niceCeiling", () => {
  it("rounds up to 1, 2 or 5 times a power of ten, never below the floor", () => {
    expect(niceCeiling(4.2)).toBe(5);
    expect(niceCeiling(5)).toBe(5);
    expect(niceCeiling(11)).toBe(20);
    expect(niceCeiling(0.3)).toBe(1);
    expect(niceCeiling(0)).toBe(1);
  });
});

describe("timeSpan", () => {
  it("spans the pool's window from its first point, at least five minutes back, at most the hour", () => {
    expect(timeSpan(linux)).toEqual({ from: AT - 5 * 60_000, to: AT });
    expect(timeSpan({ ...gpu, samples: [] })).toEqual({ from: AT - 5 * 60_000, to: AT });
    const old = { ...linux, pickups: [{ at: AT - 50 * 60_000, p50: 1, p95: 1, jobs: 1 }] };
    expect(timeSpan(old)).toEqual({ from: AT - 50 * 60_000, to: AT });
    const older = { ...linux, samples: [{ ...linux.samples[0]!, at: AT - 2 * 3_600_000 }] };
    expect(timeSpan(older)).toEqual({ from: linux.from, to: AT });
  });
});

describe("pickupChart", () => {
  const markup = flat(pickupChart(linux));

  it("draws p50 and p95 as lines with a dot per minute, on a time axis in minutes", () => {
    expect(markup).toContain('data-chart="pickup" data-pool="linux" data-points="2"');
    expect(attributes(markup, "circle", "dot p50", "cy")).toHaveLength(2);
    expect(attributes(markup, "circle", "dot p95", "cy")).toHaveLength(2);
    // Plot 44..628 wide, 12..176 high; the axis tops at 5 s (p95 4.2 s); two minutes of history
    // are drawn over the last five, labelled each minute.
    expect(attributes(markup, "polyline", "line p95", "points")).toEqual(["394.4,38.2 511.2,77.6"]);
    expect(attributes(markup, "polyline", "line p50", "points")).toEqual(["394.4,159.6 511.2,135"]);
    expect(markup).toContain(">5s</text>");
    expect([...markup.matchAll(/>(\d\d:\d\d)<\/text>/g)].map((match) => match[1])).toEqual([
      "03:00",
      "03:01",
      "03:02",
      "03:03",
      "03:04",
    ]);
  });

  it("says in words what it shows, for a screen reader, and in a tooltip per point", () => {
    expect(markup).toContain('role="img" aria-labelledby="pickup-linux-title pickup-linux-desc"');
    expect(markup).toContain(
      "8 jobs picked up in the last hour; latest minute with jobs (03:03 UTC): p50 1.25 s, p95 3.00 s.",
    );
    expect(markup).toContain("<title>03:02 UTC: p95 4.20 s over 6 jobs</title>");
  });

  it("says so when no job was picked up", () => {
    expect(pickupChart(gpu).text).toContain("No job of pool gpu was picked up in the last hour.");
  });
});

describe("runnersChart", () => {
  const markup = flat(runnersChart(linux));

  it("stacks busy, idle and starting, each sample held until the next, the last until now", () => {
    expect(markup).toContain('data-chart="runners" data-pool="linux" data-points="4"');
    // The axis tops at 5 (three runners, two waiting); busy is 0 then 1 from the third sample on.
    const [busy] = attributes(markup, "path", "band busy", "d");
    expect(busy).toBe(
      "M394.4 176 H452.8 L452.8 176 H511.2 L511.2 143.2 H569.6 L569.6 143.2 H628 L628 176 H569.6 L569.6 176 H511.2 L511.2 176 H452.8 L452.8 176 H394.4 Z",
    );
    expect(attributes(markup, "path", "band idle", "d")).toHaveLength(1);
    expect(attributes(markup, "path", "band starting", "d")).toHaveLength(1);
  });

  it("draws the jobs waiting and the warm target over the runners", () => {
    expect(attributes(markup, "path", "line waiting", "d")).toEqual([
      "M394.4 176 H452.8 L452.8 176 H511.2 L511.2 110.4 H569.6 L569.6 110.4 H628",
    ]);
    expect(attributes(markup, "path", "line target", "d")).toEqual([
      "M394.4 143.2 H452.8 L452.8 143.2 H511.2 L511.2 143.2 H569.6 L569.6 143.2 H628",
    ]);
    expect(markup.indexOf('class="line target"')).toBeGreaterThan(markup.indexOf('class="band starting"'));
    expect(markup).toContain("At 03:03 UTC: 1 busy, 1 idle, 1 starting, 2 jobs waiting, warm target 1.");
  });

  it("says so before the first sample", () => {
    expect(runnersChart(gpu).text).toContain("No sample of pool gpu yet");
  });
});

describe("the charts on the dashboard", () => {
  it("follow the pool table in its live section: one row of two charts per pool, escaped", () => {
    const pools = renderSections(knownOverview()).pools.text;
    expect(pools).toContain(historyCharts(knownHistory()).text);
    expect(pools.indexOf('<div class="pool-charts" data-pool="linux">')).toBeGreaterThan(pools.indexOf("</table>"));
    const odd = historyCharts([{ ...gpu, pool: "<b>" }]).text;
    expect(odd).toContain("&lt;b&gt;");
    expect(odd).not.toContain("<b>");
  });

  it("carry no inline style or script (the page's CSP refuses them)", () => {
    const page = renderDashboard(knownOverview()).text;
    expect(page).not.toMatch(/style=|<script>|<style|\son[a-z]+="/);
  });

  it("and the pool table shows idle runners against the warm target, marked when below it", () => {
    const pools = flat(renderSections({ ...knownOverview(), at: AT }).pools);
    expect(pools).toContain('<td class="num" data-warm="met">1 / 1</td>');
    expect(pools).toContain('<td class="num" data-warm="met">0 / 0</td>');
    const below = renderSections({
      ...knownOverview(),
      history: knownHistory().map((pool) => ({ ...pool, target: 3 })),
    }).pools;
    expect(flat(below)).toContain('<td class="num" data-warm="below">1 / 3</td>');
    const unknown = renderSections({ ...knownOverview(), history: [] }).pools;
    expect(flat(unknown)).toContain('<td class="num" data-warm="unknown">1 / –</td>');
  });
});
