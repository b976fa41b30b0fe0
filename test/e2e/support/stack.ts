import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type Dockerode from "dockerode";
import { Redis } from "ioredis";
import { inject } from "vitest";
import { stringify } from "yaml";
import { LABELS } from "../../../src/docker/labels.js";
import { RedisKeys } from "../../../src/state/keys.js";
import { GitHubSimulator, type RunnerGroup, type SimJob } from "../../sim/github-simulator.js";
import { freePort, startApp, type AppProcess } from "../../support/app-process.js";
import { dockerClient } from "../../support/docker-engine.js";
import { removeManagedContainers, testPrivateKey } from "../../integration/support/context.js";

export const WEBHOOK_SECRET = "e2e-webhook-secret";

export interface Stack {
  sim: GitHubSimulator;
  app: AppProcess;
  docker: Dockerode;
  redis: Redis;
  prefix: string;
  /** Where the app keeps its state in Redis under this stack's prefix. */
  keys: RedisKeys;
  /** The environment every process of the stack starts with (PORT aside). */
  baseEnv: Record<string, string>;
  /** Starts one more runnerhub process on the same Redis, Docker and simulator (e.g. a second worker). */
  addProcess(env: Record<string, string>): Promise<AppProcess>;
  /** Runner containers of this engine (managed label), running or not. */
  containers(filter?: Record<string, string>): Promise<Dockerode.ContainerInfo[]>;
  stop(): Promise<void>;
}

/** The stub image on the host network, so the stub runner reaches the simulator on 127.0.0.1. */
export function stubPool(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: "linux",
    labels: ["self-hosted", "linux", "x64"],
    image: inject("stubImage"),
    maxRunners: 10,
    network: "host",
    allowHostNetwork: true,
    resources: { memory: "64m", pids: 128 },
    ...fields,
  };
}

/** The built app as a child process, against the simulator, the shared Redis and Docker. */
export async function startStack(
  options: {
    pools?: Record<string, unknown>[];
    env?: Record<string, string>;
    /** Another engine than the shared one: the app's Docker variables and a client for the test. */
    engine?: { env: Record<string, string>; client: Dockerode };
    /** Another Redis than the shared one (a test that restarts it). */
    redisUrl?: string;
    /** The organization's runner groups the simulator knows (default: Default, id 1). */
    runnerGroups?: RunnerGroup[];
    /** Redis reached otherwise than by URL (Sentinel): the app's variables and the test's own client. */
    redis?: { env: Record<string, string>; client: () => Redis };
  } = {},
): Promise<Stack> {
  const sim = await GitHubSimulator.start({ webhookSecret: WEBHOOK_SECRET, runnerGroups: options.runnerGroups });
  const dir = mkdtempSync(path.join(tmpdir(), "runnerhub-e2e-"));
  const poolsFile = path.join(dir, "pools.yml");
  writeFileSync(poolsFile, stringify(options.pools ?? [stubPool()]));
  const prefix = `e2e${randomBytes(4).toString("hex")}`;
  const port = await freePort();
  const docker = options.engine?.client ?? dockerClient(inject("dockerHost"));
  const redisUrl = options.redisUrl ?? inject("redisUrl");
  const redis = options.redis?.client() ?? new Redis(redisUrl, { maxRetriesPerRequest: null });
  const baseEnv: Record<string, string> = {
    APP_ID: "1",
    PRIVATE_KEY: testPrivateKey,
    WEBHOOK_SECRET,
    GHE_HOST: sim.host,
    GHE_PROTOCOL: "http",
    HOST: "127.0.0.1",
    LOG_LEVEL: "info",
    REDIS_URL: redisUrl,
    RUNNERHUB_REDIS_PREFIX: prefix,
    DOCKER_HOST: inject("dockerHost"),
    RUNNERHUB_ENGINE_NAME: "e2e",
    RUNNERHUB_CONFIG: poolsFile,
    RUNNERHUB_STOP_GRACE: "5s",
    ...options.engine?.env,
    ...options.redis?.env,
    ...options.env,
  };
  const extra: AppProcess[] = [];
  let app: AppProcess;
  try {
    app = await startApp({ env: { ...baseEnv, PORT: String(port) } });
  } catch (error) {
    await sim.stop();
    redis.disconnect();
    throw error;
  }
  sim.setWebhookUrl(`${app.url}/api/github/webhooks`);
  return {
    sim,
    app,
    docker,
    redis,
    prefix,
    keys: new RedisKeys(prefix),
    baseEnv,
    async addProcess(env) {
      const process = await startApp({ env: { ...baseEnv, PORT: String(await freePort()), ...env } });
      extra.push(process);
      return process;
    },
    containers(filter = {}) {
      const labels = [`${LABELS.managed}=true`, ...Object.entries(filter).map(([key, value]) => `${key}=${value}`)];
      return docker.listContainers({ all: true, filters: { label: labels } });
    },
    async stop() {
      await Promise.all([app, ...extra].map((process) => process.stop()));
      await sim.stop();
      await removeManagedContainers(docker);
      await redis.quit();
    },
  };
}

/** The keys of one JSON log line's top level, in order, duplicates kept (JSON.parse would drop them). */
/** Queues `count` jobs of acme/app asking for a `linux` self-hosted runner, each behaving as told. */
export function queueLinuxJobs(sim: GitHubSimulator, count: number, behavior: SimJob["behavior"]): Promise<SimJob[]> {
  return Promise.all(
    Array.from({ length: count }, () =>
      sim.queueJob({ owner: "acme", repo: "app", labels: ["self-hosted", "linux"], behavior }),
    ),
  );
}

export function topLevelKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const char = line[i];
    if (char === "{" || char === "[") depth++;
    else if (char === "}" || char === "]") depth--;
    else if (char === '"') {
      let end = i + 1;
      while (end < line.length && line[end] !== '"') end += line[end] === "\\" ? 2 : 1;
      if (depth === 1 && line[end + 1] === ":") keys.push(JSON.parse(line.slice(i, end + 1)) as string);
      i = end;
    }
  }
  return keys;
}

/** Log lines of the app that carry some key more than once (issue 9: one key per field). */
export function linesWithRepeatedKeys(lines: readonly string[]): string[] {
  return lines
    .filter((line) => line.startsWith("{"))
    .filter((line) => new Set(topLevelKeys(line)).size !== topLevelKeys(line).length);
}
