import type { Job } from "bullmq";
import type { Logger } from "pino";
import type { ProvisionRequest } from "../../queue/jobs.js";
import type { Queues } from "../../queue/queues.js";
import { present, queueCounts } from "../overview.js";
import { jobsQuerySchema } from "../schemas.js";
import { fieldProblems, jobView, pageCount, pageRange } from "../views.js";
import { errorReply, type Reply, type RouteContext, type Routes } from "./reply.js";

export interface QueueApiDeps {
  provision: Queues["provision"];
  log: Logger;
}

const noJob = (id: string) => errorReply(404, `no provision-queue entry with id "${id}"`);

async function loadJob(
  provision: Queues["provision"],
  id: string,
): Promise<{ job: Job<ProvisionRequest>; state: string } | undefined> {
  const job = await provision.getJob(id);
  if (!job) return undefined;
  return { job, state: await job.getState() };
}

async function listJobs(provision: Queues["provision"], { query }: RouteContext): Promise<Reply> {
  const parsed = jobsQuerySchema.safeParse(query);
  if (!parsed.success) return errorReply(400, "invalid query", fieldProblems(parsed.error.issues, "query"));
  const { state, page, perPage } = parsed.data;
  const { start, end } = pageRange(page, perPage);
  const [total, jobs] = await Promise.all([
    provision.getJobCountByTypes(state),
    provision.getJobs([state], start, end),
  ]);
  return {
    status: 200,
    body: {
      state,
      page,
      perPage,
      total,
      pages: pageCount(total, perPage),
      jobs: present<Job<ProvisionRequest>>(jobs).map((job) => jobView(job, state)),
    },
  };
}

async function retryJob({ provision, log }: QueueApiDeps, { params }: RouteContext): Promise<Reply> {
  const id = params.id ?? "";
  const found = await loadJob(provision, id);
  if (!found) return noJob(id);
  if (found.state !== "failed")
    return errorReply(409, `entry "${id}" is ${found.state}; only failed entries can be retried`);
  await found.job.retry("failed");
  const retried = await loadJob(provision, id);
  log.info({ queueJobId: id }, "failed provision entry retried");
  return retried ? { status: 200, body: jobView(retried.job, retried.state) } : noJob(id);
}

async function removeJob({ provision, log }: QueueApiDeps, { params }: RouteContext): Promise<Reply> {
  const id = params.id ?? "";
  const found = await loadJob(provision, id);
  if (!found) return noJob(id);
  if (found.state === "active")
    return errorReply(409, `entry "${id}" is being provisioned by a worker; it cannot be removed now`);
  await found.job.remove();
  log.info({ queueJobId: id, state: found.state }, "provision entry removed");
  return { status: 204 };
}

/** The provision queue: its counts, its entries page by page, retrying and removing one. */
export function queueRoutes(
  deps: QueueApiDeps,
): Routes<
  | "GET /admin/queue"
  | "GET /admin/queue/jobs"
  | "GET /admin/queue/jobs/{id}"
  | "POST /admin/queue/jobs/{id}/retry"
  | "DELETE /admin/queue/jobs/{id}"
> {
  const { provision } = deps;
  return {
    "GET /admin/queue": async () => ({
      status: 200,
      body: { queue: provision.name, counts: await queueCounts(provision) },
    }),
    "GET /admin/queue/jobs": (ctx) => listJobs(provision, ctx),
    async "GET /admin/queue/jobs/{id}"({ params }) {
      const id = params.id ?? "";
      const found = await loadJob(provision, id);
      return found ? { status: 200, body: jobView(found.job, found.state) } : noJob(id);
    },
    "POST /admin/queue/jobs/{id}/retry": (ctx) => retryJob(deps, ctx),
    "DELETE /admin/queue/jobs/{id}": (ctx) => removeJob(deps, ctx),
  };
}
