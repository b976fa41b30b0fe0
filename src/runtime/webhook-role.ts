import { createWorkflowJobHandlers } from "../intake/workflow-job-handlers.js";
import { webhookHandler } from "../intake/webhook-handler.js";
import { INTAKE_TIMEOUT_MS } from "../tunables.js";
import type { Served, Shared } from "./shared.js";

/** The webhook role: workflow_job webhooks, signature and fields checked, turned into queue entries. */
export function startWebhookRole(shared: Shared): Served {
  const { config, queues } = shared;
  const workflowJob = createWorkflowJobHandlers({
    pools: shared.pools,
    provisionQueue: queues.provision,
    runnerOpsQueue: (engine) => queues.runnerOps(engine),
    runners: shared.runners,
    ledger: shared.ledger,
    slots: shared.slots,
    warmTargetOf: shared.warmTargetOf,
    history: shared.history.store,
    oomReruns: shared.oomReruns.store,
    crashLoops: shared.crashLoops,
    unmatched: shared.unmatched,
    stopGraceMs: config.stopGraceMs,
    feed: shared.feed,
    metrics: shared.metrics,
    log: shared.log,
    now: shared.now,
  });
  return {
    handlers: [
      webhookHandler({
        secret: config.github.webhookSecret,
        workflowJob,
        suspectMiss: () => shared.recovery.suspectMiss(),
        maxBytes: config.webhookMaxBytes,
        timeoutMs: INTAKE_TIMEOUT_MS,
        metrics: shared.metrics,
        log: shared.log,
      }),
    ],
    checks: {},
  };
}
