import type { IncomingMessage, ServerResponse } from "node:http";
import { verify } from "@octokit/webhooks-methods";
import type { Logger } from "pino";
import { pathOf, sendJson, type Handler } from "../http/server.js";
import { swallowInto } from "../observability/internal-errors.js";
import type { Metrics } from "../observability/metrics.js";
import { readWorkflowJob } from "./demand.js";
import { isHandledAction, type WorkflowJobHandlers } from "./workflow-job-handlers.js";

export const WEBHOOK_PATH = "/api/github/webhooks";

export interface WebhookHandlerDeps {
  /** The App's webhook secret: X-Hub-Signature-256 must sign the body with it. */
  secret: string;
  /** Run for a valid workflow_job event of the action they are named after. */
  workflowJob: WorkflowJobHandlers;
  /** An event was answered 503: the missed-delivery recovery should look soon (written once Redis answers). */
  suspectMiss(): Promise<void>;
  /** Bodies over this many bytes are refused (413) without being read. */
  maxBytes: number;
  /** Longest wait for a handler before the delivery is answered 503. */
  timeoutMs: number;
  metrics: Pick<Metrics, "internalErrors">;
  log: Logger;
}

const REQUIRED_HEADERS = ["x-github-event", "x-github-delivery", "x-hub-signature-256"] as const;

type Body = { kind: "ok"; text: string } | { kind: "too-large" } | { kind: "aborted" };

/** Reads the body while counting its bytes; stops at the first byte over the limit. */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Body> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.resolve({ kind: "too-large" });
  // Events rather than an async iterator: one promise per body instead of one per chunk.
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total <= maxBytes) return void chunks.push(chunk);
      req.off("data", onData).pause();
      resolve({ kind: "too-large" });
    };
    req.on("data", onData);
    req.once("end", () => resolve({ kind: "ok", text: Buffer.concat(chunks, total).toString("utf8") }));
    req.once("error", () => resolve({ kind: "aborted" }));
    req.once("close", () => resolve({ kind: "aborted" }));
  });
}

/** Answers and closes the connection: the rest of the request is never read. */
function refuse(req: IncomingMessage, res: ServerResponse, status: number, error: string): true {
  res.setHeader("connection", "close");
  res.once("finish", () => req.destroy());
  return sendJson(res, status, { error });
}

/**
 * GitHub's webhooks, answered with a status that says whether the event was recorded: 200 once
 * its handlers wrote to Redis, 503 when they could not within timeoutMs (GitHub records a failed
 * delivery, which the recovery pass redelivers), 400/413/415 for a request that will never be
 * recorded. @octokit/webhooks' node middleware (Probot's too) is not used because it answers 202
 * by itself after 9 s whatever happens to the event, reads any body whole before the signature
 * check, and answers a handler's crash on a malformed payload with a 500.
 */
export function webhookHandler(deps: WebhookHandlerDeps): Handler {
  const { log } = deps;
  return async (req, res) => {
    if (req.method !== "POST") return false;
    const path = pathOf(req);
    // Probot's manifest flow registers the app's root URL as its webhook URL; accept both.
    if (path !== WEBHOOK_PATH && !(path === "/" && req.headers["x-github-event"])) return false;

    const missing = REQUIRED_HEADERS.filter((name) => typeof req.headers[name] !== "string");
    if (missing.length > 0) return refuse(req, res, 400, `required headers missing: ${missing.join(", ")}`);
    if (!/^\s*application\/json\s*(;|$)/i.test(req.headers["content-type"] ?? "")) {
      return refuse(req, res, 415, 'unsupported content-type: GitHub webhooks must be sent as "application/json"');
    }
    const name = String(req.headers["x-github-event"]);
    const id = String(req.headers["x-github-delivery"]);
    const fields = { deliveryId: id, event: name };

    const body = await readBody(req, deps.maxBytes);
    if (body.kind === "aborted") return true;
    if (body.kind === "too-large") {
      log.warn({ ...fields, maxBytes: deps.maxBytes }, "webhook body over the limit; refused");
      return refuse(
        req,
        res,
        413,
        `body over ${deps.maxBytes} bytes (RUNNERHUB_WEBHOOK_MAX_BYTES); a workflow_job payload is a few KB`,
      );
    }
    if (!(await verify(deps.secret, body.text, String(req.headers["x-hub-signature-256"])))) {
      return sendJson(res, 400, { error: "signature does not match event payload and secret" });
    }
    let payload: unknown;
    try {
      payload = JSON.parse(body.text);
    } catch {
      return sendJson(res, 400, { error: "body is not JSON" });
    }
    // Events and actions runnerhub does not act on are answered as recorded: there is nothing to record.
    if (name !== "workflow_job") return sendJson(res, 200, { ok: true });
    const read = readWorkflowJob(payload);
    if (!read.ok) {
      log.warn({ ...fields, problem: read.problem }, "malformed workflow_job payload; refused");
      return sendJson(res, 400, { error: `workflow_job payload: ${read.problem}` });
    }
    const { action } = read.event;
    if (!isHandledAction(action)) return sendJson(res, 200, { ok: true });

    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), deps.timeoutMs);
    });
    const work = deps.workflowJob[action](id, read.event).then(
      () => "done" as const,
      (error: unknown) => ({ error }),
    );
    const outcome = await Promise.race([work, timedOut]);
    clearTimeout(timer);
    if (outcome === "done") return sendJson(res, 200, { ok: true });
    if (outcome === "timeout") {
      // The writes may still land; a redelivery of a recorded event adds nothing.
      void work.then((late) =>
        log.warn({ ...fields, recorded: late === "done" }, "webhook finished after it was answered 503"),
      );
      log.error({ ...fields, timeoutMs: deps.timeoutMs }, "webhook not recorded in time (Redis); answered 503");
    } else {
      log.error({ ...fields, err: outcome.error }, "webhook not recorded; answered 503");
    }
    void deps.suspectMiss().catch(
      swallowInto(deps, {
        where: "intake.suspect-miss",
        message: "could not ask the delivery recovery to look; its periodic look finds the failed delivery",
        fields,
      }),
    );
    return sendJson(res, 503, {
      error: "the event could not be recorded now; GitHub marks the delivery failed and runnerhub redelivers it",
    });
  };
}
