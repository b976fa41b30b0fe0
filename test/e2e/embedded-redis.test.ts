import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { stringify } from "yaml";
import { LABELS } from "../../src/docker/labels.js";
import { PROVISION_QUEUE, provisionJobId } from "../../src/queue/jobs.js";
import { RedisKeys } from "../../src/state/keys.js";
import { GitHubSimulator, waitFor } from "../sim/github-simulator.js";
import { freePort, startApp, type AppProcess } from "../support/app-process.js";
import { dockerClient } from "../support/docker-engine.js";
import { redisServersIn } from "../support/redis-server.js";
import { removeManagedContainers, testPrivateKey } from "../integration/support/context.js";
import { stubPool, WEBHOOK_SECRET } from "./support/stack.js";

/**
 * The default set-up: no REDIS_URL, so runnerhub runs its own redis-server on a unix socket in the
 * data folder. It must come up (on Debian 12's redis-server 7.0 too), serve jobs, come back on the
 * same data after a SIGKILL, and never run two redis-servers on one append-only file.
 */
const PREFIX = "embedded";
const keys = new RedisKeys(PREFIX);
const docker = dockerClient(inject("dockerHost"));

let sim: GitHubSimulator;
let dataDir: string;
let redisDir: string;
let env: Record<string, string>;
const apps: AppProcess[] = [];

beforeAll(async () => {
  sim = await GitHubSimulator.start({ webhookSecret: WEBHOOK_SECRET });
  const dir = mkdtempSync(path.join(tmpdir(), "rh-embedded-"));
  const poolsFile = path.join(dir, "pools.yml");
  writeFileSync(poolsFile, stringify([stubPool()]));
  dataDir = path.join(dir, "data");
  redisDir = path.join(dataDir, "redis");
  mkdirSync(redisDir, { recursive: true });
  redisDir = realpathSync(redisDir);
  env = {
    APP_ID: "1",
    PRIVATE_KEY: testPrivateKey,
    WEBHOOK_SECRET,
    GHE_HOST: sim.host,
    GHE_PROTOCOL: "http",
    HOST: "127.0.0.1",
    LOG_LEVEL: "info",
    RUNNERHUB_DATA_DIR: dataDir,
    RUNNERHUB_REDIS_PREFIX: PREFIX,
    DOCKER_HOST: inject("dockerHost"),
    RUNNERHUB_ENGINE_NAME: "embedded",
    RUNNERHUB_CONFIG: poolsFile,
    RUNNERHUB_STOP_GRACE: "5s",
  };
});

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.stop("SIGKILL")));
  // Whatever a failed case left on the data folder (on the old code: servers nobody stops).
  for (const pid of redisServers()) process.kill(pid, "SIGKILL");
  await waitFor(() => redisServers().length === 0, { timeoutMs: 10_000, what: "no redis-server on the data folder" });
  await removeManagedContainers(docker);
});

afterAll(async () => {
  await sim?.stop();
});

const redisServers = () => redisServersIn(redisDir);

async function start(): Promise<AppProcess> {
  const app = await startApp({ env: { ...env, PORT: String(await freePort()) } });
  apps.push(app);
  sim.setWebhookUrl(`${app.url}/api/github/webhooks`);
  return app;
}

/** Queues a job and waits for its runner container and its success. */
async function serveJob(): Promise<number> {
  const job = await sim.queueJob({
    owner: "acme",
    repo: "app",
    labels: ["self-hosted", "linux"],
    behavior: { kind: "run", seconds: 1 },
  });
  await waitFor(
    async () =>
      (await docker.listContainers({ all: true, filters: { label: [`${LABELS.githubJobId}=${job.id}`] } })).length > 0,
    { timeoutMs: 20_000, what: `a runner container for job ${job.id}` },
  );
  await waitFor(() => sim.getJob(job.id)?.conclusion === "success", {
    timeoutMs: 30_000,
    what: `job ${job.id} to succeed`,
  });
  return job.id;
}

/** A client of the embedded Redis, as any local tool would reach it. */
async function withEmbedded<T>(use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({ path: path.join(redisDir, "redis.sock"), maxRetriesPerRequest: 1 });
  redis.on("error", () => undefined);
  try {
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

const finishedOn = (jobId: number) =>
  withEmbedded((redis) => redis.hget(keys.queueJob(PROVISION_QUEUE, provisionJobId(jobId)), "finishedOn"));

describe("runnerhub without REDIS_URL", () => {
  it("comes up, serves a job, and after a SIGKILL comes up on the same data and serves the next", async () => {
    const first = await start();
    const [server] = redisServers();
    expect(redisServers()).toHaveLength(1);
    const firstJob = await serveJob();
    await waitFor(async () => (await finishedOn(firstJob)) !== null, {
      timeoutMs: 10_000,
      what: "the first job's provision entry to finish",
    });

    expect(await first.stop("SIGKILL")).toBeNull();
    // The kernel's parent-death signal stops the orphaned server; the next start also would.
    await start();
    const servers = redisServers();
    expect(servers).toHaveLength(1);
    expect(servers).not.toContain(server);
    // The append-only file carried the first run's state over.
    expect(await finishedOn(firstJob)).not.toBeNull();
    await serveJob();
    expect(redisServers()).toEqual(servers);
  }, 120_000);

  it("stops a redis-server a killed runnerhub left running on the folder, keeping its data", async () => {
    // What runnerhub before this change left behind when killed: a server with no parent-death signal.
    const socket = path.join(redisDir, "redis.sock");
    const leftover = spawn(
      "redis-server",
      ["--port", "0", "--unixsocket", socket, "--dir", redisDir, "--appendonly", "yes", "--save", ""],
      { detached: true, stdio: "ignore" },
    );
    leftover.unref();
    await waitFor(() => withEmbedded((redis) => redis.set("left-behind", "yes")), {
      timeoutMs: 10_000,
      what: "the left-over redis-server to answer",
    });

    const app = await start();
    const servers = redisServers();
    expect(servers).toHaveLength(1);
    expect(servers).not.toContain(leftover.pid);
    expect(await withEmbedded((redis) => redis.get("left-behind"))).toBe("yes");
    await app.waitForLog(/stopping the redis-server a previous run left on the data folder/, 1_000);
    await serveJob();
    expect(redisServers()).toEqual(servers);
  }, 120_000);

  it("refuses a second runnerhub on the same data folder and leaves the first one's Redis alone", async () => {
    await start();
    const servers = redisServers();
    await expect(start()).rejects.toThrow(/another runnerhub process runs the embedded Redis of the data folder/);
    expect(redisServers()).toEqual(servers);
    await serveJob();
  }, 120_000);

  it("stops its redis-server when it exits on a terminal's Ctrl-C", async () => {
    const app = await startApp({ env: { ...env, PORT: String(await freePort()) }, ownProcessGroup: true });
    apps.push(app);
    expect(redisServers()).toHaveLength(1);
    // Ctrl-C signals the terminal's whole foreground process group.
    process.kill(-app.pid, "SIGINT");
    expect(await app.waitForExit(30_000)).toBe(0);
    expect(redisServers()).toEqual([]);
  }, 60_000);
});
