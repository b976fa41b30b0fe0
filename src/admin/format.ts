import type { EngineView, PoolHistoryView } from "./schemas.js";

/** Plain-text pieces of the admin views that the dashboard and the CLI both show. */

/** Bytes in binary units with one decimal: 512 B, 1.5 KiB, 64.0 MiB, 2.0 GiB. */
export function formatBytes(bytes: number): string {
  const units = ["KiB", "MiB", "GiB", "TiB"];
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit] ?? ""}`;
}

/** A compact age: 42s, 5m, 3h, 2d (the dashboard's script counts the same way). */
export function formatAge(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

/** Only the process working on an engine knows its capacity (RUNNERHUB_ENGINE_CAPACITY). */
export function engineCapacity(engine: Pick<EngineView, "capacity">): string {
  if (engine.capacity === null) return "unknown";
  return engine.capacity === "unlimited" ? "no limit" : String(engine.capacity);
}

/** Each pool's warm target now, by pool name (a pool missing from the history has none known). */
export function warmTargets(history: readonly Pick<PoolHistoryView, "pool" | "target">[]): Map<string, number> {
  return new Map(history.map((pool) => [pool.pool, pool.target]));
}
