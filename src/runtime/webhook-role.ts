import { createNodeMiddleware } from "probot";
import { intakeApp } from "../intake/app.js";
import type { Served, Shared } from "./shared.js";

export const WEBHOOK_PATH = "/api/github/webhooks";

/** The webhook role: Probot's middleware turning workflow_job webhooks into queue entries. */
export async function startWebhookRole(shared: Shared): Promise<Served> {
  const { config, queues } = shared;
  const intake = intakeApp({
    currentPools: shared.currentPools,
    provisionQueue: queues.provision,
    runnerOpsQueue: (engine) => queues.runnerOps(engine),
    runners: shared.runners,
    ledger: shared.ledger,
    stopGraceMs: config.stopGraceMs,
    feed: shared.feed,
    metrics: shared.metrics,
    log: shared.log,
    now: shared.now,
  });
  const webhooks = await createNodeMiddleware(intake, { probot: shared.probot, webhooksPath: WEBHOOK_PATH });
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
