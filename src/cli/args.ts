import { parseArgs } from "node:util";
import { JOB_STATES, type JobListState } from "../admin/schemas.js";

export const DEFAULT_URL = "http://127.0.0.1:3000";

export const USAGE = `usage: runnerhub <command> [options]

commands:
  pools ls                                 pools: limits and runner counts
  pools set NAME [--max N] [--min-idle N]  change a pool's limits at run time
           [--idle-timeout D] [--max-lifetime D]
  runners ls [--pool P]                    live runners
  runners show NAME                        one runner, live or exited within a day: state, exit,
                                           OOM kill, peak memory, CPU time, last log lines
  runners logs NAME [-f]                   its output (-f, --follow: until the container ends)
  runners rm NAME [--force]                drain a runner (--force: even a busy one, failing its job)
  engines ls                               engines: health, runners, labels, drain state,
                                           memory and CPUs reserved of total
  engines drain NAME                       start no new runner on the engine (busy ones finish)
  engines undrain NAME                     let the engine take runners again
  queue ls [STATE] [--page N] [--per-page N]
                                           provision-queue counts, or the entries in STATE
                                           (${JOB_STATES.join(", ")})
  queue retry ID                           retry a failed entry
  installations ls                         each installation's GitHub budget, pause and runners
  jobs unmatched                           queued jobs no pool serves: labels, reason, nearest pool
  top [--once] [--interval S]              the live picture (pools, engines, runners, queue,
                                           events; unmatched jobs, drained engines, pools no
                                           engine may take, installations GitHub paused),
                                           redrawn every S seconds (default 2);
                                           q or Ctrl-C quits; --once prints one frame

options:
  --url URL      runnerhub server (default: $RUNNERHUB_URL, else ${DEFAULT_URL})
  --token TOKEN  admin token (default: $ADMIN_TOKEN, which keeps it out of the process list)
  --json         print the API's JSON instead of a table
  -h, --help     show this help
`;

export interface PoolChange {
  maxRunners?: number;
  minIdle?: number;
  idleTimeout?: string;
  maxLifetime?: string;
}

export type Command =
  | { kind: "help" }
  | { kind: "pools-ls" }
  | { kind: "pools-set"; name: string; change: PoolChange }
  | { kind: "runners-ls"; pool: string | undefined }
  | { kind: "runners-show"; name: string }
  | { kind: "runners-logs"; name: string; follow: boolean }
  | { kind: "runners-rm"; name: string; force: boolean }
  | { kind: "queue-ls"; state: JobListState | undefined; page: number | undefined; perPage: number | undefined }
  | { kind: "queue-retry"; id: string }
  | { kind: "installations-ls" }
  | { kind: "jobs-unmatched" }
  | { kind: "engines-ls" }
  | { kind: "engines-drain"; name: string; drain: boolean }
  | { kind: "top"; once: boolean; intervalMs: number };

export interface Invocation {
  command: Command;
  url: string;
  token: string | undefined;
  json: boolean;
}

export type ParseResult = { ok: true; invocation: Invocation } | { ok: false; message: string };

const OPTIONS = {
  url: { type: "string" },
  token: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  pool: { type: "string" },
  force: { type: "boolean" },
  follow: { type: "boolean", short: "f" },
  max: { type: "string" },
  "min-idle": { type: "string" },
  "idle-timeout": { type: "string" },
  "max-lifetime": { type: "string" },
  page: { type: "string" },
  "per-page": { type: "string" },
  once: { type: "boolean" },
  interval: { type: "string" },
} as const;

type OptionName = keyof typeof OPTIONS;
type Values = Partial<Record<OptionName, string | boolean>>;

const GLOBAL_OPTIONS: readonly OptionName[] = ["url", "token", "json", "help"];

/** Which options each command takes, besides the global ones. */
const COMMAND_OPTIONS: Record<string, readonly OptionName[]> = {
  "pools ls": [],
  "pools set": ["max", "min-idle", "idle-timeout", "max-lifetime"],
  "runners ls": ["pool"],
  "runners show": [],
  "runners logs": ["follow"],
  "runners rm": ["force"],
  "queue ls": ["page", "per-page"],
  "queue retry": [],
  "installations ls": [],
  "jobs unmatched": [],
  "engines ls": [],
  "engines drain": [],
  "engines undrain": [],
  top: ["once", "interval"],
};

export const DEFAULT_TOP_INTERVAL_MS = 2_000;

class UsageError extends Error {}

function wholeNumber(values: Values, name: OptionName, min: number): number | undefined {
  const text = values[name];
  if (typeof text !== "string") return undefined;
  if (!/^[0-9]+$/.test(text) || Number(text) < min)
    throw new UsageError(`--${name}: expected a whole number from ${min}, got "${text}"`);
  return Number(text);
}

function text(values: Values, name: OptionName): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

function positionalCount(args: readonly string[], min: number, max: number, what: string): void {
  if (args.length < min) throw new UsageError(`missing ${what}`);
  if (args.length > max) throw new UsageError(`unexpected argument "${args[max] ?? ""}"`);
}

function seconds(values: Values, name: OptionName): number | undefined {
  const text = values[name];
  if (typeof text !== "string") return undefined;
  if (!/^[0-9]+(\.[0-9]+)?$/.test(text) || Number(text) < 0.5 || Number(text) > 3600)
    throw new UsageError(`--${name}: expected seconds from 0.5 to 3600, got "${text}"`);
  return Number(text) * 1000;
}

function commandOf(words: readonly string[], values: Values): Command {
  // "top" is a command of one word; the others name a group and an action.
  const [group, action, ...rest] = words;
  const single = group === "top";
  const key = single ? group : `${group ?? ""} ${action ?? ""}`;
  const args = single ? words.slice(1) : rest;
  const allowed = COMMAND_OPTIONS[key];
  if (!allowed) {
    if (group === undefined) throw new UsageError("missing command");
    const actions = Object.keys(COMMAND_OPTIONS)
      .filter((command) => command.startsWith(`${group} `))
      .map((command) => command.slice(group.length + 1));
    if (actions.length === 0) throw new UsageError(`unknown command "${group}"`);
    throw new UsageError(
      action === undefined
        ? `"${group}" needs one of: ${actions.join(", ")}`
        : `unknown command "${group} ${action}"; "${group}" takes ${actions.join(", ")}`,
    );
  }
  for (const name of Object.keys(values) as OptionName[]) {
    if (!GLOBAL_OPTIONS.includes(name) && !allowed.includes(name))
      throw new UsageError(`option --${name} does not apply to "${key}"`);
  }
  switch (key) {
    case "pools ls":
      positionalCount(args, 0, 0, "");
      return { kind: "pools-ls" };
    case "pools set": {
      positionalCount(args, 1, 1, "pool NAME");
      const change: PoolChange = {};
      const maxRunners = wholeNumber(values, "max", 0);
      const minIdle = wholeNumber(values, "min-idle", 0);
      const idleTimeout = text(values, "idle-timeout");
      const maxLifetime = text(values, "max-lifetime");
      if (maxRunners !== undefined) change.maxRunners = maxRunners;
      if (minIdle !== undefined) change.minIdle = minIdle;
      if (idleTimeout !== undefined) change.idleTimeout = idleTimeout;
      if (maxLifetime !== undefined) change.maxLifetime = maxLifetime;
      if (Object.keys(change).length === 0)
        throw new UsageError("pools set: give at least one of --max, --min-idle, --idle-timeout, --max-lifetime");
      return { kind: "pools-set", name: args[0] ?? "", change };
    }
    case "runners ls":
      positionalCount(args, 0, 0, "");
      return { kind: "runners-ls", pool: text(values, "pool") };
    case "runners show":
      positionalCount(args, 1, 1, "runner NAME");
      return { kind: "runners-show", name: args[0] ?? "" };
    case "runners logs":
      positionalCount(args, 1, 1, "runner NAME");
      return { kind: "runners-logs", name: args[0] ?? "", follow: values.follow === true };
    case "runners rm":
      positionalCount(args, 1, 1, "runner NAME");
      return { kind: "runners-rm", name: args[0] ?? "", force: values.force === true };
    case "queue ls": {
      positionalCount(args, 0, 1, "");
      const state = args[0];
      if (state !== undefined && !JOB_STATES.some((known) => known === state)) {
        throw new UsageError(`unknown queue state "${state}"; use one of ${JOB_STATES.join(", ")}`);
      }
      const page = wholeNumber(values, "page", 1);
      const perPage = wholeNumber(values, "per-page", 1);
      if (state === undefined && (page !== undefined || perPage !== undefined))
        throw new UsageError("--page and --per-page need a STATE");
      return { kind: "queue-ls", state: state as JobListState | undefined, page, perPage };
    }
    case "installations ls":
      positionalCount(args, 0, 0, "");
      return { kind: "installations-ls" };
    case "jobs unmatched":
      positionalCount(args, 0, 0, "");
      return { kind: "jobs-unmatched" };
    case "engines ls":
      positionalCount(args, 0, 0, "");
      return { kind: "engines-ls" };
    case "engines drain":
    case "engines undrain":
      positionalCount(args, 1, 1, "engine NAME");
      return { kind: "engines-drain", name: args[0] ?? "", drain: action === "drain" };
    case "top":
      positionalCount(args, 0, 0, "");
      return {
        kind: "top",
        once: values.once === true,
        intervalMs: seconds(values, "interval") ?? DEFAULT_TOP_INTERVAL_MS,
      };
    default:
      positionalCount(args, 1, 1, "entry ID");
      return { kind: "queue-retry", id: args[0] ?? "" };
  }
}

/** Turns the command line into what to do; defaults come from the environment, read by the entry. */
export function parseInvocation(
  argv: readonly string[],
  defaults: { url?: string | undefined; token?: string | undefined },
): ParseResult {
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
    } catch (failure) {
      throw new UsageError((failure as Error).message);
    }
    const values = parsed.values as Values;
    const url = text(values, "url") ?? (defaults.url || DEFAULT_URL);
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol))
      throw new UsageError(`--url: "${url}" is not an http(s) URL`);
    const token = text(values, "token") ?? (defaults.token || undefined);
    const json = values.json === true;
    if (values.help === true) return { ok: true, invocation: { command: { kind: "help" }, url, token, json } };
    return { ok: true, invocation: { command: commandOf(parsed.positionals, values), url, token, json } };
  } catch (failure) {
    if (failure instanceof UsageError) return { ok: false, message: failure.message };
    throw failure;
  }
}
