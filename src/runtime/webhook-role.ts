import { createNodeMiddleware } from "@octokit/webhooks";
import { intakeWebhooks } from "../intake/app.js";
import type { Served, Shared } from "./shared.js";

export const WEBHOOK_PATH = "/api/github/webhooks";

/** The webhook role: workflow_job webhooks, signature checked, turned into queue entries. */
export function startWebhookRole(shared: Shared): Served {
  const { config, queues } = shared;
  const intake = intakeWebhooks({
    secret: config.github.webhookSecret,
    suspectMiss: () => shared.recovery.suspectMiss(),
    currentPools: shared.currentPools,
    provisionQueue: queues.provision,
    runnerOpsQueue: (engine) => queues.runnerOps(engine),
    runners: shared.runners,
    ledger: shared.ledger,
    oomReruns: shared.oomReruns.store,
    stopGraceMs: config.stopGraceMs,
    feed: shared.feed,
    metrics: shared.metrics,
    log: shared.log,
    now: shared.now,
  });
  const webhooks = createNodeMiddleware(intake, { path: WEBHOOK_PATH, log: shared.log.child({ name: "webhooks" }) });
  return {
    handlers: [
      async (req, res) => {
        // Probot's manifest flow registers the app's root URL as its webhook URL; accept both.
        if (req.method === "POST" && req.url === "/" && req.headers["x-github-event"]) req.url = WEBHOOK_PATH;
        return (await webhooks(req, res)) === true;
      },
    ],
    checks: {},
  };
}
