import type { IncomingMessage, ServerResponse } from "node:http";
import { readBody, sendJson } from "../../http/server.js";
import type { ErrorBody, FieldProblem } from "../schemas.js";
import type { RouteKey } from "./spec.js";

/** What a route answers; send() writes it. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** A text/plain answer instead of JSON. */
  text?: string;
  /** A text/plain answer written as it comes (followed logs); resolves when it is done. */
  stream?: (res: ServerResponse) => Promise<void>;
}

export interface RouteContext {
  req: IncomingMessage;
  query: Record<string, string>;
  params: Record<string, string>;
}

export type RouteImpl = (ctx: RouteContext) => Promise<Reply>;

/** Routes by the key ROUTE_DOCS documents them under. */
export type Routes<K extends RouteKey = RouteKey> = Record<K, RouteImpl>;

const BODY_LIMIT_BYTES = 64 * 1024;

export function errorReply(status: number, message: string, details?: FieldProblem[]): Reply {
  const body: ErrorBody = details && details.length > 0 ? { error: message, details } : { error: message };
  return { status, body };
}

type BodyResult = { ok: true; value: unknown } | { ok: false; reply: Reply };

export async function readJsonBody(req: IncomingMessage): Promise<BodyResult> {
  const tooLarge = errorReply(413, `request body exceeds ${BODY_LIMIT_BYTES} bytes`);
  const text = await readBody(req, BODY_LIMIT_BYTES);
  if (text === undefined) return { ok: false, reply: tooLarge };
  if (text.trim() === "") {
    return {
      ok: false,
      reply: errorReply(400, "request body is empty; send a JSON object", [{ field: "body", message: "required" }]),
    };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (failure) {
    return {
      ok: false,
      reply: errorReply(400, "request body is not valid JSON", [
        { field: "body", message: (failure as Error).message },
      ]),
    };
  }
}

export async function send(res: ServerResponse, reply: Reply): Promise<true> {
  res.setHeader("cache-control", "no-store");
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  if (reply.stream || reply.text !== undefined) {
    res.writeHead(reply.status, { "content-type": "text/plain; charset=utf-8" });
    if (reply.stream) await reply.stream(res);
    else res.end(reply.text);
    return true;
  }
  if (reply.body === undefined) {
    res.writeHead(reply.status).end();
    return true;
  }
  return sendJson(res, reply.status, reply.body);
}
