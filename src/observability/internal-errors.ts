import type { Logger } from "pino";
import type { Metrics } from "./metrics.js";

/**
 * Errors runnerhub catches and goes on without (a best-effort step, a retry later does the work)
 * still leave a trace: each is logged with its place and counted in
 * runnerhub_internal_errors_total{where}, so a failure that keeps happening shows on a graph.
 */

export interface ErrorReporting {
  log: Logger;
  metrics: Pick<Metrics, "internalErrors">;
}

export interface SwallowedError {
  /** A stable name of the place, `area.step` (the metric's label and the log's `where`). */
  where: string;
  /** What did not happen and what happens instead, as the log line's message. */
  message: string;
  /** Context for the log line (pool, runnerName, …), with the project's usual field names. */
  fields?: Record<string, unknown>;
  /** warn by default; error for what an operator must look at, debug for what is expected now and then. */
  level?: "debug" | "warn" | "error";
}

/** Logs an error the caller goes on without (fields, `where`, `err`) and counts it. */
export function reportSwallowed(deps: ErrorReporting, error: unknown, swallowed: SwallowedError): void {
  deps.metrics.internalErrors.inc({ where: swallowed.where });
  deps.log[swallowed.level ?? "warn"]({ ...swallowed.fields, where: swallowed.where, err: error }, swallowed.message);
}

/** For `.catch()`: reports the error as reportSwallowed does and resolves to undefined. */
export function swallowInto(deps: ErrorReporting, swallowed: SwallowedError): (error: unknown) => undefined {
  return (error) => {
    reportSwallowed(deps, error, swallowed);
    return undefined;
  };
}
