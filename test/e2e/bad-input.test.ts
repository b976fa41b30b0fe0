import { createHmac, randomUUID } from "node:crypto";
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../sim/github-simulator.js";
import { startStack, WEBHOOK_SECRET, type Stack } from "./support/stack.js";

const FUZZ_CASES = 10_000;
const CONCURRENCY = 16;
const ADMIN_TOKEN = "e2e-admin-token-0123456789";
const METRICS_TOKEN = "e2e-metrics-token-0123456789";
const MAX_BYTES = 64 * 1024;

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    env: { ADMIN_TOKEN, METRICS_TOKEN, RUNNERHUB_WEBHOOK_MAX_BYTES: String(MAX_BYTES) },
  });
});

afterAll(async () => {
  await stack?.stop();
});

/** mulberry32: a small seeded PRNG, so every run sends the same payloads. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Payload = Record<string, unknown>;
const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const job = (p: Payload) => p["workflow_job"] as Payload;

const WRONG_IDS: unknown[] = [-1, -424242, 0, 1.5, "123", null, [], {}, true, 2 ** 60, Number.MAX_VALUE];
const WRONG_STRINGS: unknown[] = [42, null, [], {}, true];
const WRONG_LABELS: unknown[] = ["self-hosted", [1, 2], [null], [{}], ["self-hosted", 7], {}, null, 3];

/** Each breaks a field runnerhub reads, so no payload generated from it is one runnerhub may act on. */
const BREAKERS: ((p: Payload, r: () => number) => unknown)[] = [
  (p) => delete p["workflow_job"],
  (p, r) => (p["workflow_job"] = pick(r, [null, "job", 7, []])),
  (p, r) => (job(p)["id"] = pick(r, WRONG_IDS)),
  (p) => delete job(p)["id"],
  (p, r) => (job(p)["run_id"] = pick(r, WRONG_IDS)),
  (p, r) => (job(p)["labels"] = pick(r, WRONG_LABELS)),
  (p) => delete job(p)["labels"],
  (p, r) => (job(p)["created_at"] = pick(r, WRONG_STRINGS)),
  (p, r) => (job(p)["runner_name"] = pick(r, [42, {}, [], true])),
  (p, r) => (job(p)["conclusion"] = pick(r, [5, {}, []])),
  (p) => delete p["repository"],
  (p, r) => (p["repository"] = pick(r, [null, "acme/app", 1])),
  (p, r) => ((p["repository"] as Payload)["name"] = pick(r, [...WRONG_STRINGS, ""])),
  (p, r) => ((p["repository"] as Payload)["owner"] = pick(r, [null, "acme", { login: 5 }, { login: "" }])),
  (p, r) => (p["organization"] = pick(r, ["acme", 5, { login: 5 }, { login: null }])),
  (p, r) => (p["installation"] = pick(r, [{ id: -1 }, { id: "1" }, { id: 0 }, 7, "1", { id: 1.5 }])),
];

/** Noise in fields runnerhub does not read: it must not matter either way. */
function addNoise(p: Payload, r: () => number): void {
  const values: unknown[] = [null, -1, "x".repeat(Math.floor(r() * 200)), [1, "a"], { deep: { er: [null] } }, 1e308];
  p[`extra_${Math.floor(r() * 100)}`] = pick(r, values);
  if (r() < 0.5) p["sender"] = pick(r, values);
  if (r() < 0.3) job(p)["steps"] = pick(r, values);
}

function malformedBody(base: Payload, r: () => number): string {
  const roll = r();
  if (roll < 0.04) return pick(r, ["[]", "42", '"queued"', "null", "true", "{}"]);
  if (roll < 0.08) {
    const text = JSON.stringify(base);
    return text.slice(0, Math.floor(r() * text.length));
  }
  const p = structuredClone(base);
  p["action"] = pick(r, ["queued", "queued", "in_progress", "completed", "waiting"]);
  addNoise(p, r);
  const breaks = 1 + Math.floor(r() * 3);
  for (let i = 0; i < breaks; i++) {
    try {
      pick(r, BREAKERS)(p, r);
    } catch {
      // The object this breaker writes into was broken before: break the job whole instead.
      delete p["workflow_job"];
    }
  }
  return JSON.stringify(p);
}

function post(path: string, body: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${stack.app.url}${path}`, { method: "POST", headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

function signed(body: string, event = "workflow_job"): Record<string, string> {
  return {
    "content-type": "application/json",
    "x-github-event": event,
    "x-github-delivery": randomUUID(),
    "x-hub-signature-256": `sha256=${createHmac("sha256", WEBHOOK_SECRET).update(body).digest("hex")}`,
  };
}

/**
 * A queued payload runnerhub would act on (the pool's labels), of a job the simulator knows; its
 * own webhook went out with labels no pool serves, so it was answered and ignored.
 */
async function validPayload(): Promise<Payload> {
  const queued = await stack.sim.queueJob({ owner: "acme", repo: "app", labels: ["self-hosted", "no-pool"] });
  const payload = stack.sim.jobPayload(queued.id, "queued");
  job(payload)["labels"] = ["self-hosted", "linux"];
  return payload;
}

/** Nothing was created: no ledger entry, no queue entry, no runner record, no container. */
async function nothingCreated(): Promise<void> {
  expect(await stack.redis.zcard(stack.keys.queuedJobs("linux"))).toBe(0);
  expect(await stack.redis.hlen(stack.keys.targets)).toBe(0);
  expect(await stack.redis.keys(stack.keys.queueJob("provision", "job-*"))).toEqual([]);
  expect(await stack.redis.scard(stack.keys.runners)).toBe(0);
  expect(await stack.containers()).toEqual([]);
  expect(stack.sim.registrationHistory()).toEqual([]);
}

describe("malformed signed webhooks (seeded fuzz)", () => {
  it(`answers ${FUZZ_CASES} of them 400, creates nothing and stays ready`, async () => {
    const random = prng(0x9e3779b9);
    const base = await validPayload();
    const bodies = Array.from({ length: FUZZ_CASES }, () => malformedBody(base, random));
    const statuses = new Map<number, number>();
    const samples = new Map<number, string>();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < bodies.length) {
          const body = bodies[next++] as string;
          const { status, text } = await post("/api/github/webhooks", body, signed(body));
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          if (!samples.has(status)) samples.set(status, `${text} <- ${body.slice(0, 300)}`);
        }
      }),
    );
    expect(Object.fromEntries(statuses), JSON.stringify(Object.fromEntries(samples))).toEqual({ 400: FUZZ_CASES });
    await nothingCreated();
    const ready = await fetch(`${stack.app.url}/readyz`);
    expect(ready.status).toBe(200);
  });

  it("names the field it could not read", async () => {
    const payload = await validPayload();
    (payload["workflow_job"] as Payload)["labels"] = "self-hosted";
    const body = JSON.stringify(payload);
    const answer = await post("/api/github/webhooks", body, signed(body));
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.text)).toEqual({ error: expect.stringContaining("workflow_job.labels") });
  });

  it("refuses a body over the limit with 413 before reading it, by Content-Length or by counting", async () => {
    const big = JSON.stringify({ padding: "x".repeat(MAX_BYTES) });
    expect((await post("/api/github/webhooks", big, signed(big))).status).toBe(413);
    // No Content-Length (chunked): counted while streaming, cut at the limit.
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = request(
        `${stack.app.url}/api/github/webhooks`,
        { method: "POST", headers: { ...signed(big), "transfer-encoding": "chunked" } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      for (let i = 0; i < 8; i++) req.write(big.slice(i * (big.length / 8), (i + 1) * (big.length / 8)));
      req.end();
    });
    expect(chunked).toBe(413);
    expect((await fetch(`${stack.app.url}/healthz`)).status).toBe(200);
  });

  it("lets in_progress and completed touch only runners of the same installation", async () => {
    const job = await stack.sim.queueJob({
      owner: "acme",
      repo: "app",
      labels: ["self-hosted", "linux"],
      behavior: { kind: "hang" },
    });
    const runner = await waitFor(
      async () => {
        const names = await stack.redis.smembers(stack.keys.runners);
        return names.length === 1 && names[0];
      },
      { timeoutMs: 20_000, what: "a runner for the job" },
    );
    const forged = stack.sim.jobPayload(job.id, "completed");
    (forged["workflow_job"] as Payload)["runner_name"] = runner;
    (forged["installation"] as Payload)["id"] = 999;
    const body = JSON.stringify(forged);
    expect((await post("/api/github/webhooks", body, signed(body))).status).toBe(200);
    const record = JSON.parse((await stack.redis.get(stack.keys.runner(runner))) ?? "{}") as Payload;
    expect(record["completedAt"]).toBeUndefined();
    // The hung job ends; its idle runner is the stack's to remove (the reconciler would retire it
    // only once GitHub's view of it is due, up to a pass plus RECONCILE_FRESH_RUNNER_MS later).
    await stack.sim.cancelJob(job.id);
  });
});

describe("other endpoints", () => {
  it("keeps /metrics behind METRICS_TOKEN and /readyz free of error text", async () => {
    expect((await fetch(`${stack.app.url}/metrics`)).status).toBe(401);
    const wrong = await fetch(`${stack.app.url}/metrics`, { headers: { authorization: "Bearer nope" } });
    expect(wrong.status).toBe(401);
    const right = await fetch(`${stack.app.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(right.status).toBe(200);
    expect(await right.text()).toContain("runnerhub_github_rate_limit_remaining");
    const ready = (await (await fetch(`${stack.app.url}/readyz`)).json()) as { checks: Record<string, string> };
    for (const value of Object.values(ready.checks)) expect(["ok", "timeout", "error"]).toContain(value);
  });

  it("answers bad admin bodies 400 and changes nothing", async () => {
    const before = await stack.redis.hgetall(stack.keys.poolOverrides);
    const bad = [
      "",
      "{",
      "[]",
      "42",
      "null",
      '{"maxRunners":-1}',
      '{"maxRunners":"5"}',
      '{"minIdle":1.5}',
      '{"idleTimeout":7}',
      '{"maxRunners":1e400}',
      `{"maxRunners":${"9".repeat(400)}}`,
    ];
    for (const body of bad) {
      const answer = await fetch(`${stack.app.url}/admin/pools/linux`, {
        method: "PATCH",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
        body,
      });
      expect(answer.status, body).toBe(400);
    }
    for (const path of ["/admin/runners/%00", "/admin/queue/jobs/..%2F..%2Fx/retry"]) {
      const answer = await fetch(`${stack.app.url}${path}`, {
        method: path.endsWith("retry") ? "POST" : "DELETE",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(answer.status, path).toBeGreaterThanOrEqual(400);
      expect(answer.status, path).toBeLessThan(500);
    }
    expect(await stack.redis.hgetall(stack.keys.poolOverrides)).toEqual(before);
  });
});
