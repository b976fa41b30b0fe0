import { request, type Server } from "node:http";
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BULL_BOARD_PATH } from "../../../../src/admin/api/spec.js";
import { createAdminHandler, type AdminHandler } from "../../../../src/admin/handler.js";
import { issueSession } from "../../../../src/admin/dashboard/session.js";
import { createHttpServer, listen } from "../../../../src/http/server.js";
import { createLogger } from "../../../../src/observability/logger.js";
import {
  LIVE_STREAM_MAX_BUFFERED_BYTES,
  LIVE_STREAMS_PER_SESSION,
  LIVE_STREAMS_TOTAL,
  LOGIN_BODY_MAX_BYTES,
  LOGIN_FAILURES_PER_WINDOW,
  SESSION_TTL_MS,
} from "../../../../src/tunables.js";
import { waitFor } from "../../../sim/github-simulator.js";
import { adminDeps, runnerRecord, serviceContext, testPool, type ServiceContext } from "../../support/context.js";

/**
 * The dashboard under load and abuse, on a real HTTP server: capped live streams, a stalled
 * client dropped, streams ended with their session, throttled logins, bounded forms, and Bull
 * Board's pages under a CSP.
 */

const TOKEN = "live-and-login-token-0123456789ab";

let ctx: ServiceContext;
let server: Server;
let handler: AdminHandler;
let port: number;
let base: string;
const logLines: string[] = [];

beforeAll(async () => {
  ctx = await serviceContext();
  const log = createLogger("debug", { write: (line: string) => void logLines.push(line) });
  handler = await createAdminHandler(
    adminDeps(ctx, { adminToken: TOKEN, pools: [testPool({ name: "linux", maxRunners: 5 })], log }),
  );
  server = createHttpServer([handler], log);
  port = await listen(server, "127.0.0.1", 0);
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await handler?.stop();
  if (server) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
  }
  await ctx?.close();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One request over node:http, from a chosen loopback address (the whole 127/8 reaches us). */
function send(
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string | Buffer; from?: string; chunked?: boolean } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, method, path, headers: options.headers, localAddress: options.from ?? "127.0.0.1" },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (options.body !== undefined && options.chunked) {
      // No content-length: the server finds the size while reading.
      const body = Buffer.from(options.body);
      for (let at = 0; at < body.length; at += 4096) req.write(body.subarray(at, at + 4096));
      req.end();
    } else {
      req.end(options.body);
    }
  });
}

function logIn(from = "127.0.0.1"): Promise<Answer> {
  return send("POST", "/admin/login", {
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token: TOKEN, next: "/admin" }).toString(),
    from,
  });
}

async function sessionCookie(from = "127.0.0.1"): Promise<string> {
  const answer = await logIn(from);
  expect(answer.status).toBe(303);
  const setCookie = answer.headers["set-cookie"]?.[0] ?? "";
  return setCookie.split(";")[0] ?? "";
}

interface OpenStream {
  status: number;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

/** Opens /admin/events and, when it is accepted, waits for its first `sections` event. */
async function openStream(headers: Record<string, string>): Promise<OpenStream> {
  const controller = new AbortController();
  const response = await fetch(`${base}/admin/events`, { headers, signal: controller.signal });
  if (response.status !== 200) {
    await response.text();
    return { status: response.status, ended: Promise.resolve(), close: () => undefined };
  }
  const reader = response.body?.getReader();
  if (!reader) throw new Error("no body");
  let seen = "";
  const decoder = new TextDecoder();
  while (!seen.includes("event: sections")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("stream ended before its first event");
    seen += decoder.decode(value, { stream: true });
  }
  const ended = (async () => {
    try {
      while (!(await reader.read()).done);
    } catch {
      // Aborted by close(): ended from this side.
    }
  })();
  return { status: 200, ended, close: () => controller.abort() };
}

/** Opens a stream, retrying while streams closed by an earlier test are still being released. */
async function openAccepted(headers: Record<string, string>): Promise<OpenStream> {
  return waitFor(
    async () => {
      const stream = await openStream(headers);
      return stream.status === 200 && stream;
    },
    { timeoutMs: 10_000, what: "a live stream to be accepted" },
  );
}

describe("live streams", () => {
  it(`holds at most ${LIVE_STREAMS_PER_SESSION} per session (429 past it), another session's not counted`, async () => {
    const cookie = await sessionCookie();
    const open: OpenStream[] = [];
    for (let i = 0; i < LIVE_STREAMS_PER_SESSION; i++) open.push(await openAccepted({ cookie }));
    const refused = await fetch(`${base}/admin/events`, { headers: { cookie } });
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: string }).error).toContain(
      `at most ${LIVE_STREAMS_PER_SESSION} live streams per session`,
    );
    const other = await openStream({ cookie: await sessionCookie() });
    expect(other.status).toBe(200);
    // A closed tab makes room again.
    open[0]?.close();
    const again = await openAccepted({ cookie });
    for (const stream of [...open, other, again]) stream.close();
  });

  it(`holds at most ${LIVE_STREAMS_TOTAL} at once over all sessions`, async () => {
    const open: OpenStream[] = [];
    for (let session = 0; session < LIVE_STREAMS_TOTAL / LIVE_STREAMS_PER_SESSION; session++) {
      const cookie = await sessionCookie();
      for (let i = 0; i < LIVE_STREAMS_PER_SESSION; i++) open.push(await openAccepted({ cookie }));
    }
    expect(open).toHaveLength(LIVE_STREAMS_TOTAL);
    const refused = await fetch(`${base}/admin/events`, { headers: { cookie: await sessionCookie() } });
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: string }).error).toContain(`at most ${LIVE_STREAMS_TOTAL} live streams`);
    for (const stream of open) stream.close();
  });

  it("ends a session's streams when the session expires", async () => {
    // A session logged in almost SESSION_TTL_MS ago: it has two seconds left.
    const value = issueSession(TOKEN, Date.now() - SESSION_TTL_MS + 2_000, "expiring-session");
    const cookie = `runnerhub_session=${value}`;
    const stream = await openAccepted({ cookie });
    let ended = false;
    void stream.ended.then(() => (ended = true));
    await waitFor(() => ended, { timeoutMs: 15_000, what: "the stream of an expired session to end" });
    expect((await fetch(`${base}/admin/events`, { headers: { cookie } })).status).toBe(401);
  });

  it("drops a client that stopped reading once its buffered output passes the bound", async () => {
    // Big updates (a runner table of 600 rows with long repository names) fill the socket buffers quickly.
    for (let i = 0; i < 600; i++) {
      await ctx.runners.put(
        runnerRecord(`linux-big${i}`, { engine: "elsewhere", repository: `acme/${"r".repeat(2_000)}${i}` }),
      );
    }
    const stalled: Socket = connect(port, "127.0.0.1");
    stalled.on("error", () => undefined);
    // Never read: the kernel's buffers fill, then the server's own.
    stalled.pause();
    stalled.write(`GET /admin/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`);
    let events = 0;
    const dropped = await waitFor(
      async () => {
        // Every feed entry changes the overview: one more whole update for the stalled client.
        await ctx.feed.record({
          kind: "runner-created",
          pool: "linux",
          runnerName: `linux-big${events}`,
          jobId: events,
        });
        events += 1;
        const line = logLines.find((entry) => entry.includes("dashboard stream dropped"));
        return line === undefined ? undefined : (JSON.parse(line) as { bufferedBytes: number });
      },
      { timeoutMs: 90_000, intervalMs: 300, what: "the stalled stream to be dropped" },
    );
    expect(dropped.bufferedBytes).toBeGreaterThan(LIVE_STREAM_MAX_BUFFERED_BYTES);
    // Dropped, not kept: the token's streams are all free again.
    const open: OpenStream[] = [];
    for (let i = 0; i < LIVE_STREAMS_PER_SESSION; i++)
      open.push(await openAccepted({ authorization: `Bearer ${TOKEN}` }));
    for (const stream of open) stream.close();
    stalled.destroy();
    await ctx.flushPrefix();
  }, 120_000);
});

describe("Bull Board", () => {
  it("is served under a Content-Security-Policy", async () => {
    for (const path of [BULL_BOARD_PATH, `${BULL_BOARD_PATH}/api/queues`]) {
      const answer = await send("GET", path, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(answer.status, path).toBe(200);
      const csp = String(answer.headers["content-security-policy"]);
      expect(csp, path).toContain("default-src 'none'");
      expect(csp, path).toContain("script-src 'self'");
      expect(csp, path).toContain("frame-ancestors 'none'");
      expect(answer.headers["x-content-type-options"]).toBe("nosniff");
    }
  });
});

describe("logins", () => {
  it(`refuses a form over ${LOGIN_BODY_MAX_BYTES} bytes with 413, announced or not`, async () => {
    const body = new URLSearchParams({ token: TOKEN, padding: "x".repeat(LOGIN_BODY_MAX_BYTES) }).toString();
    const headers = { "content-type": "application/x-www-form-urlencoded" };
    const announced = await send("POST", "/admin/login", { headers, body });
    expect(announced.status).toBe(413);
    const chunked = await send("POST", "/admin/login", { headers, body, chunked: true });
    expect(chunked.status).toBe(413);
    expect(chunked.headers["set-cookie"]).toBeUndefined();
  });

  it(`throttles an address after ${LOGIN_FAILURES_PER_WINDOW} failures a minute (429, Retry-After), the right token too; other addresses not`, async () => {
    const wrong = (from: string) =>
      send("POST", "/admin/login", {
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "token=wrong-token&next=/admin",
        from,
      });
    for (let i = 0; i < LOGIN_FAILURES_PER_WINDOW; i++) expect((await wrong("127.0.0.3")).status).toBe(401);
    const throttled = await logIn("127.0.0.3");
    expect(throttled.status).toBe(429);
    const retryAfter = Number(throttled.headers["retry-after"]);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(throttled.text).toContain("Too many failed logins from your address");
    expect(throttled.headers["set-cookie"]).toBeUndefined();
    expect((await wrong("127.0.0.3")).status).toBe(429);
    // Another client is not locked out by this one.
    expect((await logIn("127.0.0.4")).status).toBe(303);
    expect(logLines.some((line) => line.includes("dashboard login throttled"))).toBe(true);
  });
});
