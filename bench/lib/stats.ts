/** Small statistics and formatting helpers for the benchmark report. */

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const upper = sorted[mid] ?? Number.NaN;
  return sorted.length % 2 === 1 ? upper : ((sorted[mid - 1] ?? Number.NaN) + upper) / 2;
}

/**
 * Nearest-rank percentile: an observed value, never an interpolation. With 15 samples p95 is
 * the largest one, which is the honest reading of "p95" for so few samples.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? Number.NaN;
}

export function ratio(value: number, baseline: number): number | null {
  return Number.isFinite(value) && Number.isFinite(baseline) && baseline > 0 ? value / baseline : null;
}

export interface Row {
  metric: string;
  unit: "ms" | "MiB" | "calls" | "per s" | "count";
  runnerhub: number;
  /** null when there is no baseline (a plain figure) */
  baseline: number | null;
  ratio: number | null;
}

export function row(metric: string, unit: Row["unit"], runnerhub: number, baseline: number | null): Row {
  return { metric, unit, runnerhub, baseline, ratio: baseline === null ? null : ratio(runnerhub, baseline) };
}

function figure(value: number | null, unit: Row["unit"]): string {
  if (value === null || !Number.isFinite(value)) return "-";
  if (unit === "ms") return value < 10 ? `${value.toFixed(2)} ms` : `${Math.round(value)} ms`;
  if (unit === "MiB") return `${value.toFixed(1)} MiB`;
  if (unit === "per s") return `${Math.round(value)}/s`;
  if (unit === "count") return String(Math.round(value));
  return value.toFixed(2);
}

export function formatTable(rows: readonly Row[]): string {
  const header = ["metric", "runnerhub", "baseline", "ratio"];
  const cells = rows.map((r) => [
    r.metric,
    figure(r.runnerhub, r.unit),
    figure(r.baseline, r.unit),
    r.ratio === null ? "-" : `${r.ratio.toFixed(2)}x`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? "").length)));
  const line = (c: string[]): string =>
    c.map((text, i) => (i === 0 ? text.padEnd(widths[i] ?? 0) : text.padStart(widths[i] ?? 0))).join("  ");
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}
