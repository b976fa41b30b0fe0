import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  createMetrics,
  registerPoolLimitGauges,
  registerQueueGauge,
  registerRunnerGauge,
} from "../../../src/observability/metrics.js";

const DASHBOARD = new URL("../../../docs/grafana/runnerhub.json", import.meta.url);

interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}

/** The registry as the running app has it: runtime/shared.ts adds the gauges read at scrape. */
function appRegistry() {
  const metrics = createMetrics();
  registerRunnerGauge(metrics.registry, () => Promise.resolve([]));
  registerPoolLimitGauges(metrics.registry, () => Promise.resolve([]));
  registerQueueGauge(metrics.registry, () => Promise.resolve({}));
  return metrics.registry;
}

function queries(dashboard: { panels: Panel[]; templating: { list: { definition?: string }[] } }): string[] {
  const all = (panels: Panel[]): Panel[] => panels.flatMap((panel) => [panel, ...all(panel.panels ?? [])]);
  return [
    ...all(dashboard.panels).flatMap((panel) => (panel.targets ?? []).map((target) => target.expr)),
    ...dashboard.templating.list.flatMap((variable) => (variable.definition ? [variable.definition] : [])),
  ];
}

describe("docs/grafana/runnerhub.json", () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as {
    panels: Panel[];
    templating: { list: { definition?: string }[] };
  };

  it("is a dashboard with unique panel ids and a query on every non-row panel", () => {
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels.filter((p) => p.type !== "row")) {
      expect(panel.targets?.length ?? 0, panel.title).toBeGreaterThan(0);
    }
  });

  it("queries only metrics the app exports, with label names they carry", async () => {
    const registry = appRegistry();
    const exported = new Map(
      (await registry.getMetricsAsJSON()).map((metric) => [
        metric.name,
        {
          type: String(metric.type),
          labels: (registry.getSingleMetric(metric.name) as { labelNames?: string[] }).labelNames ?? [],
        },
      ]),
    );
    const selectors = queries(dashboard).flatMap((query) => [
      ...query.matchAll(/\b(runnerhub_[a-z0-9_]+)(?:\{([^}]*)\})?/g),
    ]);
    expect(selectors.length).toBeGreaterThan(20);
    for (const [, series = "", matchers = ""] of selectors) {
      const histogram = /^(.*)_(bucket|sum|count)$/.exec(series)?.[1];
      const metric = exported.get(series) ?? (histogram ? exported.get(histogram) : undefined);
      expect(metric, `${series} is not exported`).toBeDefined();
      if (histogram && !exported.has(series)) expect(metric?.type, series).toBe("histogram");
      const labels = [...matchers.matchAll(/([a-z_]+)\s*(?:=~|!~|!=|=)/g)].map((match) => match[1]);
      const allowed = [...(metric?.labels ?? []), ...(series.endsWith("_bucket") ? ["le"] : [])];
      for (const label of labels) expect(allowed, `${series}{${label}}`).toContain(label);
    }
  });

  it("shows every phase of a job's wait", () => {
    const text = queries(dashboard).join("\n");
    for (const phase of [
      "webhook_delay",
      "queue_wait",
      "capacity_wait",
      "jit_config",
      "container_start",
      "runner_online",
      "job_start",
    ]) {
      expect(text).toContain(`runnerhub_${phase}_seconds`);
    }
  });

  it("shows pickup time per pool (p50 and p95), idle runners against the warm target, and the idle cost per job", () => {
    const all = (panels: Panel[]): Panel[] => panels.flatMap((panel) => [panel, ...all(panel.panels ?? [])]);
    const exprs = (title: string) =>
      all(dashboard.panels)
        .filter((panel) => panel.title.startsWith(title))
        .flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
    const pickup = exprs("Pickup time per pool");
    for (const q of ["0.5", "0.95"]) {
      expect(pickup).toContainEqual(
        expect.stringContaining(`histogram_quantile(${q}, sum by (pool, le) (rate(runnerhub_job_start_seconds_bucket`),
      );
    }
    expect(exprs("Pickup time distribution").join()).toContain("runnerhub_job_start_seconds_bucket");
    const warm = exprs("Warm target vs idle").join("\n");
    expect(warm).toContain("runnerhub_pool_min_idle");
    expect(warm).toContain('state="idle"');
    const idleCost = exprs("Idle runner-seconds per job").join();
    expect(idleCost).toContain("runnerhub_pool_idle_runner_seconds_total");
    expect(idleCost).toContain("runnerhub_jobs_started_total");
  });
});
