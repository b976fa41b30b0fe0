import type { z } from "zod";
import {
  drainResponseSchema,
  engineViewSchema,
  enginesResponseSchema,
  errorSchema,
  jobsPageSchema,
  jobViewSchema,
  overviewSchema,
  poolsResponseSchema,
  poolViewSchema,
  queueCountsSchema,
  runnerDetailSchema,
  runnersResponseSchema,
  unmatchedJobsResponseSchema,
} from "../admin/schemas.js";
import { installationsResponseSchema, type InstallationView } from "../admin/api/installations.js";
import { parseInvocation, USAGE, type Command, type Invocation } from "./args.js";
import {
  formatDrain,
  formatEngines,
  formatError,
  formatInstallations,
  formatJobs,
  formatPools,
  formatQueueCounts,
  formatRunnerDetail,
  formatRunners,
  formatUnmatched,
} from "./format.js";
import { ANSI, redraw, renderTop } from "./top.js";

/** The terminal `runnerhub top` draws on. */
export interface Terminal {
  /** Whether stdout is a terminal: frames are then redrawn in place on the alternate screen. */
  interactive: boolean;
  columns(): number | undefined;
  rows(): number | undefined;
  /** Resolves true when the user quits (q, Ctrl-C) within ms, false once ms have passed. */
  waitForQuit(ms: number): Promise<boolean>;
  close(): void;
}

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  fetch: typeof fetch;
  now(): number;
  /** Only `runnerhub top` without --once opens one (it takes over stdin). */
  openTerminal?: () => Terminal;
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

const REQUEST_TIMEOUT_MS = 30_000;

interface ApiCall {
  method: "GET" | "PATCH" | "DELETE" | "POST";
  path: string;
  body?: unknown;
}

/** What a command asks of the API, and how its answer is shown. */
interface Plan<S extends z.ZodType> {
  call: ApiCall;
  schema: S;
  render(body: z.output<S>, now: number): string;
}

function plan<S extends z.ZodType>(
  call: ApiCall,
  schema: S,
  render: (body: z.output<S>, now: number) => string,
): Plan<S> {
  return { call, schema, render };
}

const segment = encodeURIComponent;

function planOf(command: Exclude<Command, { kind: "help" | "runners-logs" | "top" }>): Plan<z.ZodType> {
  switch (command.kind) {
    case "pools-ls":
      return plan({ method: "GET", path: "/admin/pools" }, poolsResponseSchema, (body) => formatPools(body.pools));
    case "pools-set":
      return plan(
        { method: "PATCH", path: `/admin/pools/${segment(command.name)}`, body: command.change },
        poolViewSchema,
        (pool) => formatPools([pool]),
      );
    case "runners-ls": {
      const query = command.pool === undefined ? "" : `?pool=${segment(command.pool)}`;
      return plan({ method: "GET", path: `/admin/runners${query}` }, runnersResponseSchema, (body, now) =>
        formatRunners(body.runners, now),
      );
    }
    case "runners-show":
      return plan(
        { method: "GET", path: `/admin/runners/${segment(command.name)}` },
        runnerDetailSchema,
        formatRunnerDetail,
      );
    case "runners-rm": {
      const query = command.force ? "?force=true" : "";
      return plan(
        { method: "DELETE", path: `/admin/runners/${segment(command.name)}${query}` },
        drainResponseSchema,
        formatDrain,
      );
    }
    case "queue-ls": {
      if (command.state === undefined) {
        return plan({ method: "GET", path: "/admin/queue" }, queueCountsSchema, (body) =>
          formatQueueCounts(body.queue, body.counts),
        );
      }
      const query = new URLSearchParams({ state: command.state });
      if (command.page !== undefined) query.set("page", String(command.page));
      if (command.perPage !== undefined) query.set("perPage", String(command.perPage));
      return plan({ method: "GET", path: `/admin/queue/jobs?${query.toString()}` }, jobsPageSchema, formatJobs);
    }
    case "installations-ls":
      return plan({ method: "GET", path: "/admin/installations" }, installationsResponseSchema, (body) =>
        formatInstallations(body.installations),
      );
    case "jobs-unmatched":
      return plan({ method: "GET", path: "/admin/jobs/unmatched" }, unmatchedJobsResponseSchema, (body) =>
        formatUnmatched(body.jobs),
      );
    case "engines-ls":
      return plan({ method: "GET", path: "/admin/engines" }, enginesResponseSchema, (body) =>
        formatEngines(body.engines),
      );
    case "engines-drain":
      return plan(
        { method: command.drain ? "POST" : "DELETE", path: `/admin/engines/${segment(command.name)}/drain` },
        engineViewSchema,
        (engine) =>
          `${formatEngines([engine])}${engine.draining ? "drained: no new runner starts there; busy ones finish\n" : "takes runners again\n"}`,
      );
    case "queue-retry":
      return plan(
        { method: "POST", path: `/admin/queue/jobs/${segment(command.id)}/retry` },
        jobViewSchema,
        (job) => `entry ${job.id} is ${job.state} again\n`,
      );
  }
}

type Outcome = { ok: true; status: number; body: unknown } | { ok: false; message: string };

function unreachable(invocation: Invocation, failure: unknown): string {
  const cause = (failure as Error).cause;
  const reason = cause instanceof Error ? cause.message : (failure as Error).message;
  return `cannot reach runnerhub at ${invocation.url}: ${reason}`;
}

/** timeout undefined: no limit (a followed log stream lasts as long as its container). */
function request(
  invocation: Invocation,
  call: ApiCall,
  io: CliIo,
  accept: string,
  timeoutMs: number | undefined = REQUEST_TIMEOUT_MS,
): Promise<Response> {
  const url = `${invocation.url.replace(/\/+$/, "")}${call.path}`;
  const headers: Record<string, string> = { accept };
  if (invocation.token) headers.authorization = `Bearer ${invocation.token}`;
  if (call.body !== undefined) headers["content-type"] = "application/json";
  return io.fetch(url, {
    method: call.method,
    headers,
    body: call.body === undefined ? undefined : JSON.stringify(call.body),
    signal: timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs),
  });
}

async function callApi(invocation: Invocation, call: ApiCall, io: CliIo): Promise<Outcome> {
  let response: Response;
  try {
    response = await request(invocation, call, io, "application/json");
  } catch (failure) {
    return { ok: false, message: unreachable(invocation, failure) };
  }
  const text = await response.text();
  if (text === "") return { ok: true, status: response.status, body: undefined };
  try {
    return { ok: true, status: response.status, body: JSON.parse(text) as unknown };
  } catch {
    return {
      ok: false,
      message: `${call.method} ${call.path} answered HTTP ${response.status} without JSON; is ${invocation.url} a runnerhub server?`,
    };
  }
}

function reportError(status: number, body: unknown, call: ApiCall, invocation: Invocation, io: CliIo): number {
  const problem = errorSchema.safeParse(body);
  io.stderr(formatError(problem.success ? problem.data : { error: `HTTP ${status} from ${call.method} ${call.path}` }));
  if (status === 401 && !invocation.token) io.stderr("  (set ADMIN_TOKEN or pass --token)\n");
  return EXIT_FAILED;
}

/** `runners logs`: the server's text as it comes; with --follow until the container ends. */
async function printLogs(invocation: Invocation, name: string, follow: boolean, io: CliIo): Promise<number> {
  const call: ApiCall = {
    method: "GET",
    path: `/admin/runners/${segment(name)}/logs${follow ? "?follow=true" : ""}`,
  };
  let response: Response;
  try {
    response = await request(invocation, call, io, "text/plain", follow ? undefined : REQUEST_TIMEOUT_MS);
  } catch (failure) {
    io.stderr(formatError({ error: unreachable(invocation, failure) }));
    return EXIT_FAILED;
  }
  if (response.status >= 400) {
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      body = undefined;
    }
    return reportError(response.status, body, call, invocation, io);
  }
  const decoder = new TextDecoder();
  try {
    for await (const chunk of response.body ?? []) io.stdout(decoder.decode(chunk, { stream: true }));
  } catch (failure) {
    io.stderr(formatError({ error: `the log stream broke off: ${(failure as Error).message}` }));
    return EXIT_FAILED;
  }
  const rest = decoder.decode();
  if (rest) io.stdout(rest);
  return EXIT_OK;
}

type OverviewResult =
  { ok: true; overview: z.output<typeof overviewSchema> } | { ok: false; message: string; fatal: boolean };

async function readOverview(invocation: Invocation, io: CliIo): Promise<OverviewResult> {
  const call = { method: "GET", path: "/admin/overview" } as const;
  const outcome = await callApi(invocation, call, io);
  if (!outcome.ok) return { ok: false, message: outcome.message, fatal: false };
  if (outcome.status >= 400) {
    const problem = errorSchema.safeParse(outcome.body);
    const message = problem.success ? problem.data.error : `HTTP ${outcome.status} from GET ${call.path}`;
    // A refused token or an older server will not get better by asking again; a restarting one may.
    return { ok: false, message, fatal: outcome.status < 500 };
  }
  const body = overviewSchema.safeParse(outcome.body);
  if (!body.success)
    return {
      ok: false,
      message: `unexpected answer from GET ${call.path}; is the server a matching runnerhub version?`,
      fatal: true,
    };
  return { ok: true, overview: body.data };
}

/** The installations' GitHub budgets for top's notes; undefined when the server has none to give (an older one). */
async function readInstallations(invocation: Invocation, io: CliIo): Promise<InstallationView[] | undefined> {
  const outcome = await callApi(invocation, { method: "GET", path: "/admin/installations" }, io);
  if (!outcome.ok || outcome.status >= 400) return undefined;
  const body = installationsResponseSchema.safeParse(outcome.body);
  return body.success ? body.data.installations : undefined;
}

async function runTop(invocation: Invocation, command: Extract<Command, { kind: "top" }>, io: CliIo): Promise<number> {
  const url = invocation.url;
  const terminal = command.once ? undefined : io.openTerminal?.();
  if (!terminal) {
    const result = await readOverview(invocation, io);
    if (!result.ok) {
      io.stderr(formatError({ error: result.message }));
      return EXIT_FAILED;
    }
    if (invocation.json) {
      io.stdout(`${JSON.stringify(result.overview, null, 2)}\n`);
      return EXIT_OK;
    }
    io.stdout(renderTop(result.overview, { url, installations: await readInstallations(invocation, io) }));
    return EXIT_OK;
  }
  if (terminal.interactive) io.stdout(ANSI.enter);
  let failure: string | undefined;
  try {
    let last: z.output<typeof overviewSchema> | undefined;
    let installations: InstallationView[] | undefined;
    for (;;) {
      const result = await readOverview(invocation, io);
      if (!result.ok && result.fatal) {
        failure = result.message;
        return EXIT_FAILED;
      }
      if (result.ok) {
        last = result.overview;
        installations = await readInstallations(invocation, io);
      }
      const warning = result.ok ? undefined : `${result.message}; showing the last picture, retrying`;
      const frame = last
        ? renderTop(last, { url, columns: terminal.columns(), rows: terminal.rows(), warning, installations })
        : `runnerhub top  ${url}\n! ${warning ?? ""}\n`;
      io.stdout(terminal.interactive ? redraw(frame) : `${frame}\n`);
      if (await terminal.waitForQuit(command.intervalMs)) return EXIT_OK;
    }
  } finally {
    if (terminal.interactive) io.stdout(ANSI.leave);
    terminal.close();
    // Printed after leaving the alternate screen, so it stays visible.
    if (failure !== undefined) io.stderr(formatError({ error: failure }));
  }
}

/** Runs one command line; returns the exit code (0 done, 1 failed, 2 usage). */
export async function runCli(
  argv: readonly string[],
  env: { url?: string | undefined; token?: string | undefined },
  io: CliIo,
): Promise<number> {
  const parsed = parseInvocation(argv, env);
  if (!parsed.ok) {
    io.stderr(`runnerhub: ${parsed.message}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  const { invocation } = parsed;
  const { command } = invocation;
  if (command.kind === "help") {
    io.stdout(USAGE);
    return EXIT_OK;
  }
  if (command.kind === "top") return runTop(invocation, command, io);

  if (command.kind === "runners-logs") return printLogs(invocation, command.name, command.follow, io);
  const { call, schema, render } = planOf(command);
  const outcome = await callApi(invocation, call, io);
  if (!outcome.ok) {
    io.stderr(formatError({ error: outcome.message }));
    return EXIT_FAILED;
  }
  if (outcome.status >= 400) return reportError(outcome.status, outcome.body, call, invocation, io);
  if (invocation.json) {
    io.stdout(`${JSON.stringify(outcome.body, null, 2)}\n`);
    return EXIT_OK;
  }
  const body = schema.safeParse(outcome.body);
  if (!body.success) {
    io.stderr(
      formatError({
        error: `unexpected answer from ${call.method} ${call.path}; is the server a matching runnerhub version?`,
      }),
    );
    return EXIT_FAILED;
  }
  io.stdout(render(body.data, io.now()));
  return EXIT_OK;
}
