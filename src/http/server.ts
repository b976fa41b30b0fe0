import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "pino";

/** Answers a request and returns true, or returns false to let the next handler try. */
export type Handler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export function sendJson(res: ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8" }).end(JSON.stringify(body));
  return true;
}

/**
 * A request body as text, or undefined when it is larger than maxBytes (the caller answers 413).
 * An announced oversized body is refused unread; one that grows past the limit is read to its end
 * (kept no further), since leaving it half-read would break the connection before the answer.
 */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<string | undefined> {
  if (Number(req.headers["content-length"] ?? 0) > maxBytes) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= maxBytes) chunks.push(chunk);
  }
  return size > maxBytes ? undefined : Buffer.concat(chunks).toString("utf8");
}

export function pathOf(req: IncomingMessage): string {
  return new URL(req.url ?? "/", "http://localhost").pathname;
}

/** Whether the browser reached us over HTTPS, directly or through a proxy that says so. */
export function overHttps(req: IncomingMessage): boolean {
  const socket = req.socket as { encrypted?: boolean };
  return socket.encrypted === true || req.headers["x-forwarded-proto"] === "https";
}

export function createHttpServer(handlers: Handler[], log: Logger): Server {
  return createServer((req, res) => {
    void (async () => {
      try {
        for (const handler of handlers) {
          if (await handler(req, res)) return;
        }
        sendJson(res, 404, { error: "not found", path: pathOf(req) });
      } catch (error) {
        log.error({ err: error, method: req.method, path: pathOf(req) }, "request failed");
        if (!res.headersSent) sendJson(res, 500, { error: "internal error" });
        else res.end();
      }
    })();
  });
}

export async function listen(server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        error.code === "EADDRINUSE"
          ? new Error(`port ${port} on ${host} is already in use; set PORT to a free port`, { cause: error })
          : error,
      ),
    );
    server.listen(port, host, resolve);
  });
  const address = server.address();
  return typeof address === "object" && address ? address.port : port;
}
