import { pipeline } from "node:stream/promises";
import type { Logger } from "pino";
import type { ContainerEngine } from "../../docker/engine.js";
import { drainRunner, type DrainDeps } from "../../lifecycle/drain.js";
import { maskingStream, maskSecrets, secretValuesOf, tailOf } from "../../lifecycle/runner-logs.js";
import type { RunnerRecord, RunnerStore } from "../../state/runner-store.js";
import { KEPT_LOG_BYTES } from "../../tunables.js";
import { drainQuerySchema, logsQuerySchema, runnersQuerySchema, type RunnerDetail } from "../schemas.js";
import { fieldProblems, runnerDetail, runnerView, selectRunners } from "../views.js";
import { errorReply, type Reply, type RouteContext, type Routes } from "./reply.js";

/** Draining needs the store, GitHub and the runner-ops queues; live logs the engine. */
export interface RunnerApiDeps extends DrainDeps {
  /** The engine this process is bound to (worker role): live logs of its runners are read there. */
  engine: ContainerEngine | undefined;
}

/** Lines read for a running container's tail (cut to KEPT_LOG_BYTES.abnormal), and before following it. */
const LIVE_TAIL_LINES = 2000;
const FOLLOW_TAIL_LINES = 200;

const noRunner = (name: string) => errorReply(404, `no runner named "${name}", live or exited within the last day`);

/** A runner as GET /admin/runners/{name} shows it, live or exited; undefined when unknown. */
export async function runnerDetailOf(runners: RunnerStore, name: string): Promise<RunnerDetail | undefined> {
  const live = await runners.get(name);
  if (live) return runnerDetail({ live });
  const exited = await runners.exitOf(name);
  return exited && runnerDetail({ exited, logs: await runners.logsOf(name) });
}

/** Live logs need the engine the container runs on; a process bound to another engine says where to ask. */
function liveContainer(
  engine: ContainerEngine | undefined,
  record: RunnerRecord,
): { engine: ContainerEngine; containerId: string } | Reply {
  if (record.containerId === undefined)
    return errorReply(409, `runner "${record.name}" has no container yet; try again in a moment`);
  if (!engine || engine.name !== record.engine) {
    return errorReply(
      409,
      `runner "${record.name}" runs on engine "${record.engine}", which this process is not bound to; ask a runnerhub worker process of that engine`,
    );
  }
  return { engine, containerId: record.containerId };
}

async function followLogs(log: Logger, engine: ContainerEngine, containerId: string, name: string): Promise<Reply> {
  const [env, follow] = await Promise.all([
    engine.environment(containerId),
    engine.followLogs(containerId, FOLLOW_TAIL_LINES),
  ]);
  return {
    status: 200,
    async stream(res) {
      // A client that goes away (or a server that shuts down) ends the Docker stream too.
      res.once("close", () => follow.close());
      try {
        await pipeline(follow.stream, maskingStream(secretValuesOf(env ?? [])), res);
      } catch (failure) {
        log.debug({ err: failure, runnerName: name }, "log follow ended early");
      } finally {
        follow.close();
      }
    },
  };
}

async function logsOf(deps: RunnerApiDeps, { query, params }: RouteContext): Promise<Reply> {
  const parsed = logsQuerySchema.safeParse(query);
  if (!parsed.success) return errorReply(400, "invalid query", fieldProblems(parsed.error.issues, "query"));
  const name = params.name ?? "";
  const live = await deps.runners.get(name);
  if (!live) {
    // Its container is gone: the kept lines are all there is, followed or not.
    if (!(await deps.runners.exitOf(name))) return noRunner(name);
    return { status: 200, text: (await deps.runners.logsOf(name)) ?? "" };
  }
  const container = liveContainer(deps.engine, live);
  if ("status" in container) return container;
  if (parsed.data.follow) return followLogs(deps.log, container.engine, container.containerId, name);
  const [env, text] = await Promise.all([
    container.engine.environment(container.containerId),
    container.engine.logTail(container.containerId, LIVE_TAIL_LINES),
  ]);
  return {
    status: 200,
    text: tailOf(maskSecrets(text ?? "", secretValuesOf(env ?? [])), KEPT_LOG_BYTES.abnormal),
  };
}

async function drain(deps: RunnerApiDeps, { query, params }: RouteContext): Promise<Reply> {
  const parsed = drainQuerySchema.safeParse(query);
  if (!parsed.success) return errorReply(400, "invalid query", fieldProblems(parsed.error.issues, "query"));
  const name = params.name ?? "";
  const outcome = await drainRunner(deps, name, parsed.data.force);
  switch (outcome.kind) {
    case "not-found":
      return errorReply(404, `no live runner named "${name}"`);
    case "busy":
      return errorReply(
        409,
        `runner "${name}" is busy on job ${outcome.githubJobId}; draining it now fails that job (add ?force=true to do it anyway)`,
      );
    case "github-failed":
      return errorReply(
        502,
        `GitHub answered ${outcome.status ?? "with an error"} when asked to delete the registration of runner "${name}"; the runner keeps running`,
      );
    case "took-job":
      return errorReply(
        409,
        `GitHub refused to delete runner "${name}": it has just taken a job (add ?force=true to stop it anyway)`,
      );
    case "drained":
      return {
        status: 202,
        body: {
          runner: runnerView(outcome.record),
          stop: { queue: outcome.stop.queue, jobId: outcome.stop.queueJobId, reason: outcome.reason },
          registrationDeleted: outcome.registrationDeleted,
        },
      };
  }
}

/** Runners, live or exited: listing, one runner with its logs, and draining. */
export function runnerRoutes(
  deps: RunnerApiDeps,
): Routes<
  "GET /admin/runners" | "GET /admin/runners/{name}" | "GET /admin/runners/{name}/logs" | "DELETE /admin/runners/{name}"
> {
  return {
    async "GET /admin/runners"({ query }) {
      const parsed = runnersQuerySchema.safeParse(query);
      if (!parsed.success) return errorReply(400, "invalid query", fieldProblems(parsed.error.issues, "query"));
      return { status: 200, body: { runners: selectRunners(await deps.runners.list(), parsed.data.pool) } };
    },
    async "GET /admin/runners/{name}"({ params }) {
      const name = params.name ?? "";
      const detail = await runnerDetailOf(deps.runners, name);
      return detail ? { status: 200, body: detail } : noRunner(name);
    },
    "GET /admin/runners/{name}/logs": (ctx) => logsOf(deps, ctx),
    "DELETE /admin/runners/{name}": (ctx) => drain(deps, ctx),
  };
}
