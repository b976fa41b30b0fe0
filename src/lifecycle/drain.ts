import type { Queue } from "bullmq";
import type { Logger } from "pino";
import { httpStatusOf } from "../http/error-status.js";
import type { RunnersApi } from "../github/runners-api.js";
import type { StopRunnerRequest } from "../queue/jobs.js";
import type { RunnerRecord, RunnerStore } from "../state/runner-store.js";

export type DrainReason = "drained" | "drained-forced";

/** What asking to drain a runner came to; the admin API maps each kind to an HTTP status. */
export type DrainOutcome =
  | { kind: "not-found" }
  /** The runner is on a job; draining it now would fail that job. */
  | { kind: "busy"; githubJobId: number }
  /** GitHub refused to delete the registration: the runner has just taken a job. */
  | { kind: "took-job" }
  /** GitHub failed to delete the registration; the runner keeps running. */
  | { kind: "github-failed"; status: number | undefined }
  | {
      kind: "drained";
      record: RunnerRecord;
      reason: DrainReason;
      /** The stop request on the engine's runner-ops queue. */
      stop: { queue: string; queueJobId: string };
      registrationDeleted: boolean;
    };

type Registration = "deleted" | "missing" | "busy";

/**
 * The drain policy before GitHub is asked: a busy runner is drained only when forced, since
 * stopping it fails the job it runs.
 */
export function drainable(
  record: RunnerRecord | undefined,
  force: boolean,
): { kind: "not-found" } | { kind: "busy"; githubJobId: number } | { kind: "drainable"; record: RunnerRecord } {
  if (!record) return { kind: "not-found" };
  if (record.state === "busy" && !force) return { kind: "busy", githubJobId: record.busyJobId ?? record.githubJobId };
  return { kind: "drainable", record };
}

/**
 * The drain policy once GitHub answered the deletion of the registration: a runner GitHub calls
 * busy has just taken a job, so it is stopped only when forced.
 */
export function afterDeregistration(
  registration: Registration | undefined,
  force: boolean,
): { kind: "took-job" } | { kind: "stop"; registrationDeleted: boolean } {
  if (registration === "busy" && !force) return { kind: "took-job" };
  return { kind: "stop", registrationDeleted: registration === "deleted" };
}

export interface DrainDeps {
  runners: RunnerStore;
  github: RunnersApi;
  runnerOpsQueue: (engine: string) => Queue<StopRunnerRequest>;
  log: Logger;
}

/**
 * Drains a runner: deletes its GitHub registration first (so it takes no further job), then asks
 * its engine's runner-ops worker to stop it. The exit watcher cleans up after the container.
 */
export async function drainRunner(deps: DrainDeps, name: string, force: boolean): Promise<DrainOutcome> {
  const { log } = deps;
  const checked = drainable(await deps.runners.get(name), force);
  if (checked.kind !== "drainable") return checked;
  const { record } = checked;
  let registration: Registration | undefined;
  if (record.runnerId !== undefined) {
    try {
      registration = await deps.github.deleteRunner(
        { installationId: record.installationId, scope: record.scope },
        record.runnerId,
      );
    } catch (failure) {
      const status = httpStatusOf(failure);
      log.warn(
        { runnerName: name, runnerId: record.runnerId, status, message: (failure as Error).message },
        "GitHub did not delete a drained runner's registration",
      );
      return { kind: "github-failed", status };
    }
  }
  const next = afterDeregistration(registration, force);
  if (next.kind === "took-job") return next;
  if (registration === "busy") {
    log.warn(
      { runnerName: name, runnerId: record.runnerId },
      "GitHub refused to delete a busy runner's registration; stopping it anyway (forced)",
    );
  }
  const reason: DrainReason = force ? "drained-forced" : "drained";
  const queue = deps.runnerOpsQueue(record.engine);
  const stop = await queue.add("stop", { runnerName: record.name, reason });
  const { registrationDeleted } = next;
  log.info(
    { runnerName: name, pool: record.pool, engine: record.engine, reason, registrationDeleted },
    "runner drained",
  );
  return {
    kind: "drained",
    record,
    reason,
    stop: { queue: queue.name, queueJobId: stop.id ?? "" },
    registrationDeleted,
  };
}
