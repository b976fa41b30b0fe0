import { z } from "zod";
import { poolOverrideSchema } from "../../pools/overrides.js";
import {
  LIVE_STREAMS_PER_SESSION,
  LIVE_STREAMS_TOTAL,
  LOGIN_BODY_MAX_BYTES,
  LOGIN_FAILURE_WINDOW_MS,
  LOGIN_FAILURES_PER_WINDOW,
} from "../../tunables.js";
import type { Method } from "./routing.js";
import {
  DEFAULT_PER_PAGE,
  drainResponseSchema,
  engineViewSchema,
  enginesResponseSchema,
  errorSchema,
  JOB_STATES,
  jobsPageSchema,
  jobViewSchema,
  MAX_PER_PAGE,
  overviewSchema,
  unmatchedJobsResponseSchema,
  poolsResponseSchema,
  poolViewSchema,
  queueCountsSchema,
  runnerDetailSchema,
  runnersResponseSchema,
} from "../schemas.js";
import { installationsResponseSchema } from "./installations.js";

/**
 * Every admin route, described once: the handler binds an implementation to each key (the
 * compiler insists on one for every entry) and the OpenAPI document is generated from it.
 */

export const BULL_BOARD_PATH = "/admin/queues";
/** The admin API's own version: it changes when a route or shape changes, not with each release. */
export const API_VERSION = "1.2.0";

const SCHEMAS = {
  Error: errorSchema,
  PoolList: poolsResponseSchema,
  Pool: poolViewSchema,
  PoolOverride: poolOverrideSchema,
  RunnerList: runnersResponseSchema,
  Runner: runnerDetailSchema,
  Drain: drainResponseSchema,
  EngineList: enginesResponseSchema,
  Engine: engineViewSchema,
  QueueCounts: queueCountsSchema,
  JobPage: jobsPageSchema,
  Job: jobViewSchema,
  Overview: overviewSchema,
  InstallationList: installationsResponseSchema,
  UnmatchedJobs: unmatchedJobsResponseSchema,
} satisfies Record<string, z.ZodType>;

type SchemaName = keyof typeof SCHEMAS;

interface ParameterDoc {
  name: string;
  in: "path" | "query";
  description: string;
  required?: boolean;
  schema: Record<string, unknown>;
}

interface ResponseDoc {
  description: string;
  schema?: SchemaName;
  /** A text/plain answer instead of JSON. */
  text?: true;
}

export interface RouteDoc {
  method: Method;
  template: string;
  summary: string;
  parameters?: ParameterDoc[];
  body?: SchemaName;
  responses: Record<number, ResponseDoc>;
}

const pathParam = (name: string, description: string): ParameterDoc => ({
  name,
  in: "path",
  description,
  required: true,
  schema: { type: "string" },
});

const notFound = (what: string): ResponseDoc => ({ description: `No such ${what}`, schema: "Error" });
const invalid: ResponseDoc = { description: "Invalid request; `details` names each field", schema: "Error" };

export const ROUTE_DOCS = {
  "GET /admin/pools": {
    method: "GET",
    template: "/admin/pools",
    summary:
      "Pools with their effective limits (run-time overrides applied), runner counts, the idle runners each keeps warm now and why, the pool each overflows to, and a crash loop with its fix when the cause is known (runner-outdated)",
    responses: { 200: { description: "The pools, in the order of the pools file", schema: "PoolList" } },
  },
  "GET /admin/pools/{name}": {
    method: "GET",
    template: "/admin/pools/{name}",
    summary:
      "One pool as GET /admin/pools shows it; a pool with perRepository adds `fairShare`: each repository's running runners, waiting jobs and parked demand",
    parameters: [pathParam("name", "Pool name")],
    responses: {
      200: { description: "The pool", schema: "Pool" },
      404: notFound("pool"),
    },
  },
  "PATCH /admin/pools/{name}": {
    method: "PATCH",
    template: "/admin/pools/{name}",
    summary: "Change a pool's limits at run time; the new maxRunners binds the next reservation in every process",
    parameters: [pathParam("name", "Pool name")],
    body: "PoolOverride",
    responses: {
      200: { description: "The pool as GET /admin/pools shows it", schema: "Pool" },
      400: invalid,
      404: notFound("pool"),
      413: { description: "Request body too large", schema: "Error" },
    },
  },
  "DELETE /admin/pools/{name}/crash-loop": {
    method: "DELETE",
    template: "/admin/pools/{name}/crash-loop",
    summary:
      "End a pool's crash loop (after fixing what made its runners die before taking a job): its waiting demand gets runners at once",
    parameters: [pathParam("name", "Pool name")],
    responses: {
      200: { description: "The pool as GET /admin/pools shows it", schema: "Pool" },
      404: notFound("pool"),
    },
  },
  "GET /admin/engines": {
    method: "GET",
    template: "/admin/engines",
    summary:
      "Docker engines: runners per state, health, labels (RUNNERHUB_ENGINE_LABELS), whether drained, and the memory and CPUs runners reserve and leave free",
    responses: { 200: { description: "The engines, by name", schema: "EngineList" } },
  },
  "POST /admin/engines/{name}/drain": {
    method: "POST",
    template: "/admin/engines/{name}/drain",
    summary:
      "Drain an engine for maintenance: no new runner starts there (its demand goes to other engines); busy runners finish their jobs. Idempotent.",
    parameters: [pathParam("name", "Engine name (RUNNERHUB_ENGINE_NAME of its worker)")],
    responses: {
      200: { description: "The engine as GET /admin/engines shows it", schema: "Engine" },
      404: notFound("engine (no worker of that name has started)"),
    },
  },
  "DELETE /admin/engines/{name}/drain": {
    method: "DELETE",
    template: "/admin/engines/{name}/drain",
    summary: "Undrain an engine: it takes runners again. Idempotent.",
    parameters: [pathParam("name", "Engine name")],
    responses: {
      200: { description: "The engine as GET /admin/engines shows it", schema: "Engine" },
      404: notFound("engine (no worker of that name has started)"),
    },
  },
  "GET /admin/runners": {
    method: "GET",
    template: "/admin/runners",
    summary: "Live runners (starting, idle, busy)",
    parameters: [{ name: "pool", in: "query", description: "Only runners of this pool", schema: { type: "string" } }],
    responses: { 200: { description: "Runner records, by pool then age", schema: "RunnerList" }, 400: invalid },
  },
  "GET /admin/runners/{name}": {
    method: "GET",
    template: "/admin/runners/{name}",
    summary:
      "One runner, live or exited in the last day: state, exit reason and code, OOM kill, peak memory and CPU time, the job re-run after an OOM kill, and the last log lines kept when its container was removed (secrets masked)",
    parameters: [pathParam("name", "Runner name")],
    responses: {
      200: { description: "The runner", schema: "Runner" },
      404: notFound("runner (live or exited within a day)"),
    },
  },
  "GET /admin/runners/{name}/logs": {
    method: "GET",
    template: "/admin/runners/{name}/logs",
    summary:
      "The runner's output as plain text, secrets masked: the last lines of a running container (with follow=true, streamed until the container ends), or the lines kept when it exited",
    parameters: [
      pathParam("name", "Runner name"),
      {
        name: "follow",
        in: "query",
        description: "Keep streaming while the container runs",
        schema: { type: "string", enum: ["true", "false"] },
      },
    ],
    responses: {
      200: { description: "The log lines (text/plain)", text: true },
      400: invalid,
      404: notFound("runner (live or exited within a day)"),
      409: {
        description:
          "The runner has no container yet, or runs on an engine this process is not bound to (ask a worker process of that engine)",
        schema: "Error",
      },
    },
  },
  "DELETE /admin/runners/{name}": {
    method: "DELETE",
    template: "/admin/runners/{name}",
    summary:
      "Drain a runner: delete its GitHub registration (so it takes no new job), then stop its container. A busy runner is refused unless force=true (its job then fails).",
    parameters: [
      pathParam("name", "Runner name"),
      {
        name: "force",
        in: "query",
        description: "Stop even a busy runner",
        schema: { type: "string", enum: ["true", "false"] },
      },
    ],
    responses: {
      202: {
        description: "Registration deleted (when known) and stop enqueued on the engine's runner-ops queue",
        schema: "Drain",
      },
      400: invalid,
      404: notFound("runner"),
      409: {
        description: "The runner is busy (or GitHub says it turned busy); retry with force=true",
        schema: "Error",
      },
      502: { description: "GitHub did not answer the registration delete as expected", schema: "Error" },
    },
  },
  "GET /admin/queue": {
    method: "GET",
    template: "/admin/queue",
    summary: "Provision-queue entries per state",
    responses: { 200: { description: "Counts per state", schema: "QueueCounts" } },
  },
  "GET /admin/queue/jobs": {
    method: "GET",
    template: "/admin/queue/jobs",
    summary: "Provision-queue entries in one state, newest first, a page at a time",
    parameters: [
      {
        name: "state",
        in: "query",
        required: true,
        description: "Queue state",
        schema: { type: "string", enum: [...JOB_STATES] },
      },
      { name: "page", in: "query", description: "1-based page", schema: { type: "integer", minimum: 1, default: 1 } },
      {
        name: "perPage",
        in: "query",
        description: "Entries per page",
        schema: { type: "integer", minimum: 1, maximum: MAX_PER_PAGE, default: DEFAULT_PER_PAGE },
      },
    ],
    responses: { 200: { description: "One page of entries", schema: "JobPage" }, 400: invalid },
  },
  "GET /admin/queue/jobs/{id}": {
    method: "GET",
    template: "/admin/queue/jobs/{id}",
    summary: "One provision-queue entry",
    parameters: [pathParam("id", "Queue entry id (job-<GitHub job id>)")],
    responses: { 200: { description: "The entry", schema: "Job" }, 404: notFound("queue entry") },
  },
  "POST /admin/queue/jobs/{id}/retry": {
    method: "POST",
    template: "/admin/queue/jobs/{id}/retry",
    summary: "Retry a failed provision-queue entry",
    parameters: [pathParam("id", "Queue entry id")],
    responses: {
      200: { description: "The entry, waiting again", schema: "Job" },
      404: notFound("queue entry"),
      409: { description: "The entry is not failed", schema: "Error" },
    },
  },
  "DELETE /admin/queue/jobs/{id}": {
    method: "DELETE",
    template: "/admin/queue/jobs/{id}",
    summary: "Remove a provision-queue entry that no worker is running",
    parameters: [pathParam("id", "Queue entry id")],
    responses: {
      204: { description: "Removed" },
      404: notFound("queue entry"),
      409: { description: "A worker is running the entry", schema: "Error" },
    },
  },
  "GET /admin/jobs/unmatched": {
    method: "GET",
    template: "/admin/jobs/unmatched",
    summary:
      "Recent queued self-hosted jobs no pool serves (the last 100, newest first), each with its labels, the reason (a label or size no pool offers; no labels and no groupDefault pool) and the nearest pool with the labels it lacks; a job leaves the list once a runner takes it or it ends",
    responses: { 200: { description: "The unmatched jobs", schema: "UnmatchedJobs" } },
  },
  "GET /admin/overview": {
    method: "GET",
    template: "/admin/overview",
    summary:
      "Everything the dashboard and `runnerhub top` show, read at one moment: pools, engines, runners, queue counts, the newest timeline entries and the unmatched jobs",
    responses: { 200: { description: "The overview", schema: "Overview" } },
  },
  "GET /admin/installations": {
    method: "GET",
    template: "/admin/installations",
    summary:
      "Each GitHub installation runnerhub serves (and the app's own JWT as `app`): its GitHub call budget in secondary-limit points, its pause after a rate-limit answer, its hourly requests left when below RUNNERHUB_GITHUB_RATE_FLOOR, and its live runners. GitHub keeps its limits per installation token, so each installation has its own budget and one's spent budget never slows another's",
    responses: { 200: { description: "One entry per installation, `app` last", schema: "InstallationList" } },
  },
  "GET /admin/openapi.json": {
    method: "GET",
    template: "/admin/openapi.json",
    summary: "This description",
    responses: { 200: { description: "OpenAPI 3.1 document" } },
  },
} as const satisfies Record<string, RouteDoc>;

export type RouteKey = keyof typeof ROUTE_DOCS;

/** Answers every operation can give, whatever it does. */
const COMMON_RESPONSES: Record<number, ResponseDoc> = {
  401: { description: "Missing or wrong admin token (header WWW-Authenticate: Bearer)", schema: "Error" },
  500: { description: "Internal error", schema: "Error" },
  503: { description: "The admin API is disabled: ADMIN_TOKEN is not set", schema: "Error" },
};

function jsonSchemaOf(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" });
  return rest;
}

function responsesOf(responses: Record<number, ResponseDoc>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries({ ...responses, ...COMMON_RESPONSES }).map(([status, doc]) => [
      status,
      doc.text
        ? { description: doc.description, content: { "text/plain": { schema: { type: "string" } } } }
        : doc.schema
          ? {
              description: doc.description,
              content: { "application/json": { schema: { $ref: `#/components/schemas/${doc.schema}` } } },
            }
          : { description: doc.description },
    ]),
  );
}

function operationOf(doc: RouteDoc): Record<string, unknown> {
  return {
    summary: doc.summary,
    operationId: `${doc.method.toLowerCase()}${doc.template.replace(/[^A-Za-z0-9]+(.)?/g, (_match, next: string | undefined) => (next ?? "").toUpperCase())}`,
    ...(doc.parameters ? { parameters: doc.parameters } : {}),
    ...(doc.body
      ? {
          requestBody: {
            required: true,
            content: { "application/json": { schema: { $ref: `#/components/schemas/${doc.body}` } } },
          },
        }
      : {}),
    responses: responsesOf(doc.responses),
  };
}

/** The OpenAPI 3.1 document of the admin API, the dashboard included. */
export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const docs: RouteDoc[] = Object.values(ROUTE_DOCS);
  for (const doc of docs) {
    paths[doc.template] = { ...paths[doc.template], [doc.method.toLowerCase()]: operationOf(doc) };
  }
  const page = (summary: string, operationId: string, more: Record<string, unknown> = {}) => ({
    get: {
      summary,
      operationId,
      responses: {
        200: { description: "The page", content: { "text/html": { schema: { type: "string" } } } },
        303: { description: "A browser without a session is sent to the login form" },
        ...responsesOf({}),
      },
      ...more,
    },
  });
  paths["/admin"] = page(
    "The live dashboard (HTML): pools, engines, queue, runners, recent events",
    "getAdminDashboard",
    {
      description:
        "Browsers log in at /admin/login and then carry an HttpOnly session cookie; the bearer token works too.",
    },
  );
  paths[BULL_BOARD_PATH] = page(
    "Bull Board dashboard of the provision, runner-ops and oom-rerun queues (its assets and API live under /admin/queues/)",
    "getAdminQueues",
  );
  // A browser asking for a runner (Accept: text/html) gets its page instead of the JSON.
  const runner = paths["/admin/runners/{name}"]?.get as {
    description?: string;
    responses: Record<string, { content?: Record<string, unknown> }>;
  };
  runner.description =
    "A request that accepts text/html (a browser) gets the runner's page: its record, exit, usage, kept log lines and timeline.";
  for (const status of ["200", "404"]) {
    const answer = runner.responses[status];
    if (answer) answer.content = { ...answer.content, "text/html": { schema: { type: "string" } } };
  }
  paths["/admin/events"] = {
    get: {
      summary: "The dashboard's live updates: server-sent events, `sections` carries the re-rendered parts of the page",
      operationId: "getAdminEvents",
      responses: {
        200: { description: "An event stream", content: { "text/event-stream": { schema: { type: "string" } } } },
        429: {
          description:
            `Too many live streams: at most ${LIVE_STREAMS_PER_SESSION} per session (or for the bearer token), ${LIVE_STREAMS_TOTAL} per process. ` +
            "A stream ends when its session expires, and a client that stops reading is dropped.",
          content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
        },
        ...responsesOf({}),
      },
    },
  };
  paths["/admin/login"] = {
    get: {
      summary: "The login form (no token needed)",
      operationId: "getAdminLogin",
      responses: {
        200: { description: "The form", content: { "text/html": { schema: { type: "string" } } } },
        303: { description: "Already logged in: on to `next`" },
      },
    },
    post: {
      summary: "Log in with the admin token (form field `token`); sets the session cookie",
      operationId: "postAdminLogin",
      responses: {
        303: { description: "Logged in: on to `next` (default /admin)" },
        401: { description: "Wrong or missing token: the form again, with the error" },
        413: { description: `The form is larger than ${LOGIN_BODY_MAX_BYTES} bytes` },
        429: {
          description: `${LOGIN_FAILURES_PER_WINDOW} failed logins from this address within ${LOGIN_FAILURE_WINDOW_MS / 1000} s: the form with the error, and Retry-After (seconds)`,
        },
      },
    },
  };
  paths["/admin/logout"] = {
    post: {
      summary: "Log out: clears the session cookie",
      operationId: "postAdminLogout",
      responses: { 303: { description: "On to the login form" } },
    },
  };
  const schemas = Object.fromEntries(
    Object.entries(SCHEMAS).map(([name, schema]) => [
      name,
      jsonSchemaOf(schema, name === "PoolOverride" ? "input" : "output"),
    ]),
  );
  return {
    openapi: "3.1.0",
    info: {
      title: "runnerhub admin API",
      version: API_VERSION,
      description:
        "Pools and their run-time limits, runners (with what happened inside them), and the provision queue. Every route needs `Authorization: Bearer <ADMIN_TOKEN>`.",
    },
    servers: [{ url: "/" }],
    security: [{ adminToken: [] }],
    components: {
      securitySchemes: {
        adminToken: { type: "http", scheme: "bearer", description: "The ADMIN_TOKEN the server was started with" },
      },
      schemas,
    },
    paths,
  };
}
