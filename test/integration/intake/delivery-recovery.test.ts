import { randomBytes } from "node:crypto";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { Probot } from "probot";
import { afterEach, beforeEach, describe, expect, inject, it } from "vitest";
import {
  createDeliveryRecovery,
  githubDeliveriesApi,
  type DeliveriesApi,
  type DeliveryRecovery,
} from "../../../src/intake/delivery-recovery.js";
import { createLogger } from "../../../src/observability/logger.js";
import { createMetrics, type Metrics } from "../../../src/observability/metrics.js";
import { RedisKeys } from "../../../src/state/keys.js";
import { GitHubSimulator } from "../../sim/github-simulator.js";
import { testPrivateKey } from "../support/context.js";
import { storeContext } from "../../../src/state/store-context.js";

const SECRET = "recovery-test-secret";
const HOUR = 3_600_000;
const WAIT = { timeoutMs: 10_000 };

interface Received {
  guid: string;
  action: unknown;
  jobId: unknown;
}

/** Plays the app: verifies nothing, records each webhook, answers `status` (or holds the answer). */
class Receiver {
  readonly received: Received[] = [];
  status = 200;
  hold = false;
  private readonly held: ServerResponse[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<Receiver> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const receiver = new Receiver(
      server,
      `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/github/webhooks`,
    );
    server.on("request", (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const payload = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
          action?: unknown;
          workflow_job?: { id?: unknown };
        };
        const guid = req.headers["x-github-delivery"];
        receiver.received.push({
          guid: typeof guid === "string" ? guid : "",
          action: payload.action,
          jobId: payload.workflow_job?.id,
        });
        if (receiver.hold) receiver.held.push(res);
        else res.writeHead(receiver.status).end();
      });
    });
    return receiver;
  }

  /** Answers every held webhook with the current status. */
  release(): void {
    for (const res of this.held.splice(0)) res.writeHead(this.status).end();
  }

  get heldCount(): number {
    return this.held.length;
  }

  timesReceived(guid: string): number {
    return this.received.filter((r) => r.guid === guid).length;
  }

  stop(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

interface LogLine {
  level: number;
  msg: string;
  guid?: string;
}

let sim: GitHubSimulator;
let receiver: Receiver;
let redis: Redis;
let prefix: string;
let api: DeliveriesApi;
let logs: LogLine[];
let metrics: Metrics;

function recovery(deps: Partial<DeliveriesApi> = {}): DeliveryRecovery {
  const log = createLogger("debug", {
    write(line: string) {
      logs.push(JSON.parse(line) as LogLine);
    },
  });
  return createDeliveryRecovery({
    ...api,
    ...deps,
    store: storeContext(redis, prefix),
    log,
    metrics,
    now: () => Date.now(),
    maxAgeMs: HOUR,
    fullCheckEveryMs: HOUR,
  });
}

const attemptPosts = () => sim.requests.filter((r) => r.method === "POST" && r.path.endsWith("/attempts"));
const deliveryLists = () => sim.requests.filter((r) => r.method === "GET" && r.path === "/api/v3/app/hook/deliveries");
const attemptsOf = (guid: string) => sim.deliveries().filter((d) => d.guid === guid);

beforeEach(async () => {
  metrics = createMetrics();
  receiver = await Receiver.start();
  sim = await GitHubSimulator.start({ webhookSecret: SECRET, webhookUrl: receiver.url });
  redis = new Redis(inject("redisUrl"), { maxRetriesPerRequest: null });
  prefix = `t${randomBytes(4).toString("hex")}`;
  logs = [];
  const probot = new Probot({
    appId: 1,
    privateKey: testPrivateKey,
    secret: SECRET,
    baseUrl: `${sim.url}/api/v3`,
    log: createLogger("silent"),
  });
  // A small page size makes ten jobs span several pages, so the cursor pagination is exercised.
  api = githubDeliveriesApi(() => probot.auth(), { perPage: 4 });
});

afterEach(async () => {
  await sim.stop();
  await receiver.stop();
  const keys = await redis.keys(new RedisKeys(prefix).everything);
  if (keys.length > 0) await redis.del(keys);
  await redis.quit();
});

describe("delivery recovery against the GitHub simulator", () => {
  it("redelivers every lost workflow_job delivery exactly once, with its original guid, oldest first", async () => {
    const lostIndexes = new Set([1, 2, 4, 5, 7, 8]);
    const jobs = [];
    for (let i = 0; i < 10; i += 1) {
      jobs.push(
        await sim.queueJob({ owner: "acme", repo: "app", labels: ["self-hosted"], deliver: !lostIndexes.has(i) }),
      );
    }
    const originals = sim.deliveries();
    const lost = originals.filter((d) => d.statusCode !== 200);
    const answered = originals.filter((d) => d.statusCode === 200);
    expect(lost).toHaveLength(6);
    expect(receiver.received.map((r) => r.guid)).toEqual(answered.map((d) => d.guid));

    const first = await recovery().run();
    expect(first).toEqual({ examined: 10, redelivered: 6, failed: 0, abandoned: 0 });
    expect(deliveryLists()).toHaveLength(3);
    await sim.waitFor(() => sim.deliveries().length === 16, { ...WAIT, what: "six redelivery attempts" });

    const redelivered = receiver.received.slice(answered.length);
    expect(redelivered.map((r) => r.guid)).toEqual(lost.map((d) => d.guid));
    expect(redelivered.map((r) => r.jobId)).toEqual(jobs.filter((_, i) => lostIndexes.has(i)).map((j) => j.id));
    expect(redelivered.every((r) => r.action === "queued")).toBe(true);
    for (const d of originals) expect(receiver.timesReceived(d.guid)).toBe(1);
    expect(
      sim
        .deliveries()
        .slice(10)
        .every((d) => d.redelivery && d.statusCode === 200),
    ).toBe(true);

    const second = await recovery().run();
    expect(second).toEqual({ examined: 16, redelivered: 0, failed: 0, abandoned: 0 });
    const posted = attemptPosts().map((r) => Number(r.path.split("/").at(-2)));
    expect(posted).toEqual(lost.map((d) => d.id));
    expect(posted.some((id) => answered.some((d) => d.id === id))).toBe(false);
    expect(receiver.received).toHaveLength(10);
  });

  it("redelivers each event once when two processes run a pass at the same time", async () => {
    for (let i = 0; i < 5; i += 1) await sim.queueJob({ owner: "acme", repo: "app", labels: ["x"], deliver: false });
    const other = new Redis(inject("redisUrl"), { maxRetriesPerRequest: null });
    try {
      const one = recovery();
      const two = createDeliveryRecovery({
        ...api,
        store: storeContext(other, prefix),
        log: createLogger("silent"),
        metrics,
        now: () => Date.now(),
        maxAgeMs: HOUR,
        fullCheckEveryMs: HOUR,
      });
      const [a, b] = await Promise.all([one.run(), two.run()]);
      expect(a.redelivered + b.redelivered).toBe(5);
    } finally {
      await other.quit();
    }
    await sim.waitFor(() => receiver.received.length === 5 && sim.deliveries().length === 10, {
      ...WAIT,
      what: "five redeliveries",
    });
    expect(new Set(receiver.received.map((r) => r.guid)).size).toBe(5);
    expect(attemptPosts()).toHaveLength(5);
  });

  it("retries an event whose redelivery failed, never while one is on its way, and gives up after three", async () => {
    await sim.queueJob({ owner: "acme", repo: "app", labels: ["x"], deliver: false });
    const [lost] = sim.deliveries();
    const guid = lost?.guid ?? "";
    const pass = recovery();
    receiver.status = 503;
    receiver.hold = true;

    expect(await pass.run()).toMatchObject({ redelivered: 1, failed: 0 });
    await sim.waitFor(() => receiver.heldCount === 1, { ...WAIT, what: "the first redelivery" });
    // GitHub has not recorded the attempt yet: a second request now would double it.
    expect(await pass.run()).toMatchObject({ redelivered: 0, abandoned: 0 });
    receiver.hold = false;
    receiver.release();
    await sim.waitFor(() => attemptsOf(guid).length === 2, { ...WAIT, what: "the failed redelivery attempt" });

    for (let n = 3; n <= 4; n += 1) {
      expect(await pass.run()).toMatchObject({ redelivered: 1, failed: 0, abandoned: 0 });
      await sim.waitFor(() => attemptsOf(guid).length === n, { ...WAIT, what: `redelivery attempt ${n}` });
    }
    expect(attemptsOf(guid).map((d) => d.statusCode)).toEqual([502, 503, 503, 503]);

    expect(await pass.run()).toMatchObject({ redelivered: 0, failed: 0, abandoned: 1 });
    expect(await pass.run()).toMatchObject({ redelivered: 0, abandoned: 0 });
    receiver.status = 200;
    expect(await pass.run()).toMatchObject({ redelivered: 0, abandoned: 0 });
    expect(receiver.timesReceived(guid)).toBe(3);
    expect(attemptPosts()).toHaveLength(3);
    const abandoned = logs.filter((l) => l.msg.startsWith("webhook delivery abandoned"));
    expect(abandoned).toHaveLength(1);
    expect(abandoned[0]).toMatchObject({ level: 40, guid });
  });

  it("does not remember a redelivery request that failed, so the next pass tries again", async () => {
    await sim.queueJob({ owner: "acme", repo: "app", labels: ["x"], deliver: false });
    let refuse = true;
    const flaky = recovery({
      redeliver: async (id) => {
        if (refuse) throw new Error("GitHub answered 502");
        await api.redeliver(id);
      },
    });

    expect(await flaky.run()).toMatchObject({ redelivered: 0, failed: 1 });
    const failed = logs.find((l) => l.msg.startsWith("webhook redelivery request failed"));
    expect(failed).toMatchObject({
      level: 40,
      where: "delivery-recovery.redeliver",
      err: { message: "GitHub answered 502" },
    });
    expect(await metrics.registry.getSingleMetricAsString("runnerhub_internal_errors_total")).toContain(
      'runnerhub_internal_errors_total{where="delivery-recovery.redeliver"} 1',
    );
    refuse = false;
    expect(await flaky.run()).toMatchObject({ redelivered: 1, failed: 0 });
    await sim.waitFor(() => receiver.received.length === 1 && sim.deliveries().length === 2, {
      ...WAIT,
      what: "the redelivery",
    });
    expect(await flaky.run()).toMatchObject({ redelivered: 0, failed: 0 });
    expect(receiver.received).toHaveLength(1);
  });

  it("asks GitHub only when there is a reason, and then only for what is newer than the last pass saw", async () => {
    let now = Date.now();
    const pass = createDeliveryRecovery({
      ...api,
      store: storeContext(redis, prefix),
      log: createLogger("silent"),
      metrics,
      now: () => now,
      maxAgeMs: HOUR,
      fullCheckEveryMs: 10 * 60_000,
      cursorOverlapMs: 0,
    });
    for (let i = 0; i < 9; i += 1) await sim.queueJob({ owner: "acme", repo: "app", labels: ["x"] });
    // GitHub's delivered_at has one-second resolution: the last pass's newest second is read again.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await sim.queueJob({ owner: "acme", repo: "app", labels: ["x"] });
    // First pass: no cursor yet, so the whole window (10 deliveries, 3 pages of 4).
    expect(await pass.run()).toMatchObject({ examined: 10, redelivered: 0 });
    expect(deliveryLists()).toHaveLength(3);

    // Nothing suggests a miss: no GitHub call at all.
    expect(await pass.run()).toMatchObject({ examined: 0 });
    expect(deliveryLists()).toHaveLength(3);

    // A webhook answered with an error: the next pass looks, at the newer deliveries only.
    await sim.queueJob({ owner: "acme", repo: "app", labels: ["x"], deliver: false });
    await pass.suspectMiss();
    const third = await pass.run();
    expect(third.redelivered).toBe(1);
    expect(third.examined).toBeLessThanOrEqual(2);
    expect(deliveryLists()).toHaveLength(4);
    await sim.waitFor(() => receiver.received.length === 11, { ...WAIT, what: "the redelivery" });

    // The redelivered event is checked once more (its answer shows in the list), then left alone.
    expect((await pass.run()).redelivered).toBe(0);
    expect(await pass.run()).toMatchObject({ examined: 0 });
    expect(deliveryLists()).toHaveLength(5);

    // The periodic look for misses nobody here saw.
    now += 10 * 60_000;
    expect(await pass.run()).toMatchObject({ redelivered: 0 });
    expect(deliveryLists()).toHaveLength(6);
  });

  it("lists deliveries with the app JWT, newest first, and stops paging at sinceMs", async () => {
    await sim.queueJob({ owner: "acme", repo: "app", labels: ["x"] });
    await sim.queueJob({ owner: "acme", repo: "app", labels: ["x"], deliver: false });
    for (let i = 0; i < 8; i += 1) await sim.sendWebhook("ping", { zen: "Keep it logically awesome." });

    const all = await api.listDeliveries(0);
    expect(deliveryLists()).toHaveLength(3);
    const expected = sim
      .deliveries()
      .reverse()
      .map((d) => ({
        id: d.id,
        guid: d.guid,
        deliveredAt: Date.parse(d.deliveredAt),
        redelivery: d.redelivery,
        statusCode: d.statusCode,
        event: d.event,
        action: d.action,
      }));
    expect(all).toEqual(expected);
    expect(all.slice(-2).map((d) => [d.action, d.statusCode])).toEqual([
      ["queued", 502],
      ["queued", 200],
    ]);

    const before = deliveryLists().length;
    expect(await api.listDeliveries(Date.now() + 60_000)).toEqual([]);
    expect(deliveryLists().length - before).toBe(1);
  });
});
