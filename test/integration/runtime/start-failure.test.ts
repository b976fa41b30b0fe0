import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer, type Server } from "node:net";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { inject } from "vitest";
import { loadConfig, type Config } from "../../../src/config/load.js";
import { createLogger } from "../../../src/observability/logger.js";
import { MAINTENANCE_QUEUE, PROVISION_QUEUE, reconcileQueueName, runnerOpsQueueName } from "../../../src/queue/jobs.js";
import { startRuntime } from "../../../src/runtime/index.js";
import { stringify } from "yaml";
import { testPrivateKey } from "../support/context.js";

const ENGINE = "start-failure-engine";
const QUEUES = [PROVISION_QUEUE, runnerOpsQueueName(ENGINE), MAINTENANCE_QUEUE, reconcileQueueName(ENGINE)];

let redis: Redis;
let occupied: Server;
let occupiedPort: number;
let github: HttpServer;
let githubPort: number;
let dir: string;
let poolsFile: string;

function listening(server: Server | HttpServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : 0);
    });
  });
}

/** The config the environment of a real process would give: both roles, this test's services. */
function config(prefix: string, port: number): Config {
  const loaded = loadConfig(
    {
      APP_ID: "1",
      PRIVATE_KEY: testPrivateKey,
      WEBHOOK_SECRET: "secret",
      // The start-up runs of the schedules ask GitHub for failed deliveries: there are none.
      GHE_HOST: `127.0.0.1:${githubPort}`,
      GHE_PROTOCOL: "http",
      HOST: "127.0.0.1",
      PORT: String(port),
      LOG_LEVEL: "silent",
      REDIS_URL: inject("redisUrl"),
      RUNNERHUB_REDIS_PREFIX: prefix,
      DOCKER_HOST: inject("dockerHost"),
      RUNNERHUB_ENGINE_NAME: ENGINE,
      RUNNERHUB_CONFIG: poolsFile,
    },
    dir,
  );
  if (loaded.mode !== "run") throw new Error("expected a run config");
  return loaded;
}

/** BullMQ workers connected to Redis, per queue of this prefix. */
async function workerCounts(prefix: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const name of QUEUES) {
    const queue = new Queue(name, { connection: redis, prefix });
    counts[name] = (await queue.getWorkers()).length;
    await queue.close();
  }
  return counts;
}

const none = Object.fromEntries(QUEUES.map((name) => [name, 0]));

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "runnerhub-start-"));
  poolsFile = path.join(dir, "pools.yml");
  writeFileSync(
    poolsFile,
    stringify([
      { name: "linux", labels: ["self-hosted", "linux"], image: inject("stubImage"), maxRunners: 2, network: "none" },
    ]),
  );
  redis = new Redis(inject("redisUrl"), { maxRetriesPerRequest: null });
  occupied = createServer();
  occupiedPort = await listening(occupied);
  github = createHttpServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end("[]"));
  githubPort = await listening(github);
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await new Promise((resolve) => occupied.close(resolve));
  await new Promise((resolve) => github.close(resolve));
  await redis.quit();
});

it("runs a worker per queue once started, and none after stop()", async () => {
  const prefix = `t${randomBytes(4).toString("hex")}`;
  const runtime = await startRuntime(config(prefix, 0), createLogger("silent"));
  expect(Object.values(await workerCounts(prefix)).every((count) => count >= 1)).toBe(true);
  await runtime.stop();
  expect(await workerCounts(prefix)).toEqual(none);
});

it("stops the workers it had started when start-up fails at the last step", async () => {
  const prefix = `t${randomBytes(4).toString("hex")}`;
  // Every role starts, then the HTTP port turns out to be taken.
  await expect(startRuntime(config(prefix, occupiedPort), createLogger("silent"))).rejects.toThrow(/already in use/);
  expect(await workerCounts(prefix)).toEqual(none);
});
