/**
 * Signed `workflow_job` webhooks fired at an HTTP endpoint over loopback, and the baseline they are
 * compared with: a bare node:http server that only checks the same HMAC.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createHmac, randomUUID } from "node:crypto";
import http from "node:http";
import { workflowJobExamples } from "../../test/sim/github-simulator.js";

export interface SignedWebhook {
  body: string;
  headers: Record<string, string>;
}

/**
 * GitHub's own `queued` example (an App's, with an installation) for `count` distinct job ids
 * starting at firstJobId, with the given labels, signed as GitHub signs them.
 */
export function queuedWebhooks(options: {
  count: number;
  firstJobId: number;
  labels: string[];
  secret: string;
}): SignedWebhook[] {
  const queued = workflowJobExamples().filter((e) => e.action === "queued");
  const example = queued.find((e) => "installation" in e && e.installation) ?? queued[0];
  if (!example) throw new Error("@octokit/webhooks-examples has no workflow_job.queued example");
  return Array.from({ length: options.count }, (_, i) => {
    const payload = structuredClone(example);
    Object.assign(payload.workflow_job, {
      id: options.firstJobId + i,
      labels: options.labels,
      created_at: new Date().toISOString(),
    });
    const body = JSON.stringify(payload);
    return {
      body,
      headers: {
        "content-type": "application/json",
        "x-github-event": "workflow_job",
        "x-github-delivery": randomUUID(),
        "x-hub-signature-256": `sha256=${createHmac("sha256", options.secret).update(body).digest("hex")}`,
      },
    };
  });
}

export interface LoadResult {
  /** Answer time of each webhook (ms), in sending order. */
  latenciesMs: number[];
  totalMs: number;
  /** Answers that were not 2xx. */
  failures: number;
}

function post(agent: http.Agent, url: URL, hook: SignedWebhook): Promise<{ ms: number; ok: boolean }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: "POST",
        agent,
        headers: { ...hook.headers, "content-length": String(Buffer.byteLength(hook.body)) },
      },
      (res) => {
        res.resume();
        res.once("end", () => {
          const status = res.statusCode ?? 0;
          resolve({ ms: performance.now() - started, ok: status >= 200 && status < 300 });
        });
      },
    );
    req.once("error", reject);
    req.end(hook.body);
  });
}

/** Sends every webhook, `concurrency` at a time on keep-alive connections, as fast as answers come. */
export async function fireAll(url: string, hooks: readonly SignedWebhook[], concurrency: number): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL(url);
  const latenciesMs: number[] = new Array<number>(hooks.length);
  let next = 0;
  let failures = 0;
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = next++; i < hooks.length; i = next++) {
          const hook = hooks[i];
          if (!hook) continue;
          const answer = await post(agent, target, hook);
          latenciesMs[i] = answer.ms;
          if (!answer.ok) failures++;
        }
      }),
    );
    return { latenciesMs, totalMs: performance.now() - started, failures };
  } finally {
    agent.destroy();
  }
}

/**
 * Sends the webhooks at a steady rate (one every 1000/rate ms, on schedule whatever the answers
 * do), so answer times show queueing inside the server rather than in the sender.
 */
export async function fireSteady(url: string, hooks: readonly SignedWebhook[], perSecond: number): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const target = new URL(url);
  const gapMs = 1000 / perSecond;
  const latenciesMs: number[] = new Array<number>(hooks.length);
  let failures = 0;
  const started = performance.now();
  const pending: Promise<void>[] = [];
  try {
    for (let i = 0; i < hooks.length; i++) {
      const due = started + i * gapMs;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      const hook = hooks[i];
      if (!hook) continue;
      pending.push(
        post(agent, target, hook).then((answer) => {
          latenciesMs[i] = answer.ms;
          if (!answer.ok) failures++;
        }),
      );
    }
    await Promise.all(pending);
    return { latenciesMs, totalMs: performance.now() - started, failures };
  } finally {
    agent.destroy();
  }
}

// The baseline: reads the body, checks X-Hub-Signature-256 in constant time, answers 202. Plain
// JavaScript for `node -e`, so it runs as its own process on the same node binary as the app.
const BARE_SERVER = `
const { createHmac, timingSafeEqual } = require("node:crypto");
const http = require("node:http");
const secret = process.env.BENCH_SECRET;
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    const expected = Buffer.from("sha256=" + createHmac("sha256", secret).update(body).digest("hex"));
    const given = Buffer.from(String(req.headers["x-hub-signature-256"] || ""));
    const ok = given.length === expected.length && timingSafeEqual(given, expected);
    res.writeHead(ok ? 202 : 400).end();
  });
});
server.listen(0, "127.0.0.1", () => process.stdout.write(server.address().port + "\\n"));
`;

export interface BareServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startBareHmacServer(secret: string, timeoutMs: number): Promise<BareServer> {
  const child = spawn(process.execPath, ["-e", BARE_SERVER], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", BENCH_SECRET: secret },
  });
  const onParentExit = (): void => {
    if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, "SIGKILL");
  };
  process.once("exit", onParentExit);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async (): Promise<void> => {
    process.removeListener("exit", onParentExit);
    if (child.pid === undefined) return;
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, "SIGKILL");
    await exited;
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`bare HMAC server did not start within ${timeoutMs} ms`)),
        timeoutMs,
      );
      child.once("error", reject);
      child.stdout?.once("data", (chunk: Buffer) => {
        clearTimeout(timer);
        resolve(Number(chunk.toString("utf8").trim()));
      });
    });
    if (child.pid === undefined) throw new Error("bare HMAC server has no pid");
    return { url: `http://127.0.0.1:${port}/`, pid: child.pid, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat. */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  const ticks = Number(fields[11]) + Number(fields[12]);
  if (!Number.isFinite(ticks)) throw new Error(`cannot read the CPU time of process ${pid}`);
  return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** Linux's USER_HZ, fixed at 100 on every architecture node runs on here. */
const CLOCK_TICKS_PER_SECOND = 100;
