/**
 * The scale-out rows of `npm run bench` (issue 19, docs/scaling.md): runners a minute with one
 * worker process and with three (three Docker engines), each against Docker alone starting the
 * same containers on the same engines; runners a minute with two installations against one
 * installation on a scaled-down GitHub budget; and, per job, Redis commands (INFO commandstats),
 * GitHub calls (the simulator's log) and CPU time of runnerhub's processes.
 *
 * It starts its own throwaway Redis, three Docker engines and the GitHub simulator, runs the built
 * app (dist/main.js), and stops all of it at the end. Every wait is on an event or a poll with a deadline.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type Dockerode from "dockerode";
import { Redis } from "ioredis";
import { stringify } from "yaml";
import { poolSchema } from "../src/config/pools.js";
import { LABELS } from "../src/docker/labels.js";
import { runnerContainerSpec } from "../src/docker/runner-spec.js";
import { GitHubSimulator, waitFor } from "../test/sim/github-simulator.js";
import { buildStubImage, STUB_IMAGE_TAG } from "../test/sim/stub-image.js";
import { freePort, startApp, type AppProcess } from "../test/support/app-process.js";
import { DockerEngine } from "../test/support/docker-engine.js";
import { RedisServer } from "../test/support/redis-server.js";
import { ContainerEvents } from "./lib/container-events.js";
import { benchAppEnv, Cleanup, log, reason, withDeadline } from "./lib/harness.js";
import { procStatusMiB } from "./lib/memory.js";
import { formatTable, row, type Row } from "./lib/stats.js";
import { cpuMs } from "./lib/webhook-load.js";

/** Jobs per burst: inside the default GitHub burst (300 points = 60 JIT configs), so Docker and runnerhub bind, not GitHub. */
const BURST = 45;
/**
 * The installations phase: GitHub scaled down to a third (100 points at once = 20 JIT configs, 30 of
 * them kept for runner calls as 100 of 300 are by default,
 * then 300 points = 60 a minute per installation), so a burst of 40 spends one installation's
 * budget within seconds, as 120 would spend the real one.
 */
const SCALED_BUDGET = {
  RUNNERHUB_GITHUB_BURST: "100",
  RUNNERHUB_GITHUB_POINTS_PER_MINUTE: "300",
  RUNNERHUB_GITHUB_RESERVE: "30",
};
const INSTALLATION_BURST = 40;
const JOB_SECONDS = 1;
const TOTAL_DEADLINE_MS = 900_000;
const PHASE_DEADLINE_MS = 240_000;
const WEBHOOK_SECRET = "bench-webhook-secret";
const API_PREFIX = "/api/v3";
const BASELINE_LABEL = "com.github.runnerhub.bench-scale";

const POOL = {
  name: "linux",
  labels: ["self-hosted", "linux", "x64"],
  image: STUB_IMAGE_TAG,
  maxRunners: 100,
  network: "host",
  allowHostNetwork: true,
  resources: { memory: "64m", pids: 128 },
  // A runner started for a job another runner took retires soon, so no phase inherits idle runners.
  idleTimeout: "5s",
};

/**
 * The installations phase's second pool: each installation's jobs on a pool of their own, so the
 * one-installation baseline (its jobs split over both pools the same way) differs only in the
 * installation, not in how demand is counted per pool.
 */
const POOL_B = { ...POOL, name: "linux-b", labels: ["self-hosted", "linux-b"] };

interface Engine {
  name: string;
  dockerd: DockerEngine;
  docker: Dockerode;
  events: ContainerEvents;
}

interface BurstResult {
  jobs: number;
  allStartedMs: number;
  runnersPerMinute: number;
  redisCommandsPerJob: number;
  githubCallsPerJob: number;
  cpuMsPerJob: number;
}

/** Calls per command since Redis started (INFO commandstats), INFO itself left out. */
async function redisCommands(client: Redis): Promise<number> {
  let total = 0;
  for (const line of (await client.info("commandstats")).split("\n")) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (match?.[1] && match[1] !== "info" && match[2]) total += Number(match[2]);
  }
  return total;
}

/** Docker alone: `perEngine` containers created and started at once on each engine; ms until the last started. */
async function dockerAlone(engines: readonly Engine[], perEngine: number): Promise<number> {
  const pool = poolSchema.parse(POOL);
  const t0 = Date.now();
  const follow = await Promise.all(engines.map((engine) => ContainerEvents.follow(engine.docker, BASELINE_LABEL)));
  try {
    const started = await Promise.all(
      engines.map(async (engine, e) => {
        const ids = await Promise.all(
          Array.from({ length: perEngine }, async (_, i) => {
            const spec = runnerContainerSpec({
              name: `bench-scale-${engine.name}-${i}-${t0}`,
              pool,
              runnerId: 0,
              githubJobId: 0,
              owner: "acme",
              installationId: 1,
              registrationEnv: {},
            });
            const container = await engine.docker.createContainer({
              ...spec,
              Cmd: ["/bin/true"],
              Env: [],
              Labels: { [BASELINE_LABEL]: "baseline" },
            });
            await container.start();
            return container.id;
          }),
        );
        const wanted = new Set(ids);
        const events = follow[e];
        if (!events) throw new Error("no event stream");
        const starts = await events.waitForAll(
          (event) => event.action === "start" && wanted.has(event.containerId),
          perEngine,
          PHASE_DEADLINE_MS,
          `Docker alone on ${engine.name}: starts`,
        );
        await events.waitForAll(
          (event) => event.action === "die" && wanted.has(event.containerId),
          perEngine,
          PHASE_DEADLINE_MS,
          `Docker alone on ${engine.name}: exits`,
        );
        await Promise.all(ids.map((id) => engine.docker.getContainer(id).remove()));
        return Math.max(...starts.map((event) => event.atMs));
      }),
    );
    return Math.max(...started) - t0;
  } finally {
    for (const events of follow) events.close();
  }
}

/**
 * Queues the jobs (owner, installation) at once and waits for every job to be taken by a runner
 * (in_progress), to complete, for as many runner containers to be removed and for every webhook
 * to be delivered: the Redis commands, GitHub calls and CPU counted are a whole job's.
 */
async function measureBurst(
  sim: GitHubSimulator,
  redis: Redis,
  engines: readonly Engine[],
  apps: readonly AppProcess[],
  batches: readonly { owner: string; installationId: number; count: number; labels?: string[] }[],
): Promise<BurstResult> {
  const jobsTotal = batches.reduce((sum, batch) => sum + batch.count, 0);
  const seenBefore = engines.map((engine) => engine.events.seen.length);
  const requestsBefore = sim.requests.length;
  const deliveriesBefore = sim.deliveries().length;
  const commandsBefore = await redisCommands(redis);
  const cpuBefore = apps.map((app) => cpuMs(app.pid));
  const t0 = Date.now();
  const jobs = (
    await Promise.all(
      batches.flatMap((batch) =>
        Array.from({ length: batch.count }, () =>
          sim.queueJob({
            owner: batch.owner,
            repo: "app",
            installationId: batch.installationId,
            labels: batch.labels ?? ["self-hosted", "linux"],
            behavior: { kind: "run", seconds: JOB_SECONDS },
          }),
        ),
      ),
    )
  ).map((job) => job.id);
  const newEvents = (action: string) =>
    engines.flatMap((engine, e) => engine.events.seen.slice(seenBefore[e]).filter((event) => event.action === action));
  // A job counts once a runner took it (in_progress at the simulator): a runner left idle by an
  // earlier phase may take one without a container starting for it.
  const startedAt = await waitFor(
    () => {
      const times = jobs.map((id) => sim.getJob(id)?.startedAt ?? null);
      return times.every((at) => at !== null) ? times.map((at) => Date.parse(at ?? "")) : undefined;
    },
    { timeoutMs: PHASE_DEADLINE_MS, intervalMs: 50, what: `all ${jobsTotal} jobs to be taken by a runner` },
  );
  const allStartedMs = Math.max(...startedAt) - t0;
  await waitFor(() => jobs.every((id) => sim.getJob(id)?.status === "completed"), {
    timeoutMs: PHASE_DEADLINE_MS,
    intervalMs: 100,
    what: `all ${jobsTotal} jobs to complete`,
  });
  await waitFor(() => newEvents("destroy").length >= jobsTotal, {
    timeoutMs: PHASE_DEADLINE_MS,
    intervalMs: 100,
    what: `all ${jobsTotal} runner containers to be removed`,
  });
  await waitFor(() => sim.deliveries().length >= deliveriesBefore + 3 * jobsTotal, {
    timeoutMs: PHASE_DEADLINE_MS,
    intervalMs: 100,
    what: "every webhook to be delivered",
  });
  const githubCalls = sim.requests
    .slice(requestsBefore)
    .filter((request) => request.path.startsWith(`${API_PREFIX}/`)).length;
  const cpu = apps.reduce((sum, app, i) => sum + cpuMs(app.pid) - (cpuBefore[i] ?? 0), 0);
  return {
    jobs: jobsTotal,
    allStartedMs,
    runnersPerMinute: (jobsTotal * 60_000) / allStartedMs,
    redisCommandsPerJob: ((await redisCommands(redis)) - commandsBefore) / jobsTotal,
    githubCallsPerJob: githubCalls / jobsTotal,
    cpuMsPerJob: cpu / jobsTotal,
  };
}

async function managedContainers(engine: Engine): Promise<number> {
  const listed = await engine.docker.listContainers({ all: true, filters: { label: [`${LABELS.managed}=true`] } });
  return listed.length;
}

/** Waits until no GitHub budget of the prefix is below its burst (a missing key is a full bucket). */
async function waitForFullBudgets(redis: Redis, prefix: string, burst: number, perMinute: number): Promise<void> {
  await waitFor(
    async () => {
      const keys = await redis.keys(`${prefix}:github-budget:*`);
      const [seconds, micros] = await redis.time();
      const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      for (const key of keys) {
        const [points, at] = await redis.hmget(key, "points", "at");
        if (points !== null && at !== null && Number(points) + ((now - Number(at)) * perMinute) / 60_000 < burst) {
          return false;
        }
      }
      return true;
    },
    { timeoutMs: 120_000, intervalMs: 500, what: "the GitHub budgets to refill" },
  );
}

async function startEngine(name: string, cleanup: Cleanup): Promise<Engine> {
  const dockerd = await DockerEngine.start();
  cleanup.add(`dockerd ${name}`, () => dockerd.destroy());
  const docker = dockerd.client();
  await buildStubImage(docker, STUB_IMAGE_TAG);
  const events = await ContainerEvents.follow(docker, `${LABELS.managed}=true`);
  cleanup.add(`the docker events of ${name}`, () => events.close());
  return { name, dockerd, docker, events };
}

/** One app process per engine: the first with every role, the others workers only. */
async function startApps(
  env: Record<string, string>,
  engines: readonly Engine[],
  sim: GitHubSimulator,
  cleanup: Cleanup,
): Promise<AppProcess[]> {
  const apps: AppProcess[] = [];
  for (const [i, engine] of engines.entries()) {
    const app = await startApp({
      env: {
        ...env,
        PORT: String(await freePort()),
        DOCKER_HOST: engine.dockerd.dockerHost,
        RUNNERHUB_ENGINE_NAME: engine.name,
        ...(i === 0 ? {} : { RUNNERHUB_ROLES: "worker" }),
      },
    });
    cleanup.add(`runnerhub on ${engine.name}`, async () => {
      await app.stop();
    });
    apps.push(app);
  }
  const front = apps[0];
  if (!front) throw new Error("no app process");
  sim.setWebhookUrl(`${front.url}/api/github/webhooks`);
  return apps;
}

async function runBench(cleanup: Cleanup): Promise<void> {
  const startedAt = new Date();
  log("starting redis-server and three private dockerds");
  const redisServer = await RedisServer.start();
  cleanup.add("redis-server", () => redisServer.stop());
  const engines: Engine[] = [];
  for (const name of ["scale-a", "scale-b", "scale-c"]) engines.push(await startEngine(name, cleanup));
  const [engineA] = engines;
  if (!engineA) throw new Error("no engine");
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
  cleanup.add("the bench's Redis client", () => redis.disconnect());
  const dir = await mkdtemp(path.join(os.tmpdir(), "runnerhub-bench-scale-"));
  cleanup.add("the pools file", () => rm(dir, { recursive: true, force: true }));
  const poolsFile = path.join(dir, "pools.yml");
  await writeFile(poolsFile, stringify([POOL, POOL_B]));
  const sim = await GitHubSimulator.start({ webhookSecret: WEBHOOK_SECRET });
  cleanup.add("the GitHub simulator", () => sim.stop());
  const baseEnv = (prefix: string): Record<string, string> =>
    benchAppEnv({ githubHost: sim.host, webhookSecret: WEBHOOK_SECRET, redisUrl: redisServer.url, prefix, poolsFile });

  log("Docker alone: one engine, then three at once");
  const aloneOne = await dockerAlone([engineA], BURST);
  const aloneThree = await dockerAlone(engines, BURST / engines.length);

  log(`one worker process: ${BURST} jobs at once`);
  const oneApps = await startApps(baseEnv("scale1"), [engineA], sim, cleanup);
  const one = await measureBurst(sim, redis, [engineA], oneApps, [{ owner: "acme", installationId: 1, count: BURST }]);
  const [front] = oneApps;
  const frontRss = front ? procStatusMiB(front.pid, "VmRSS") : Number.NaN;
  await Promise.all(oneApps.map((app) => app.stop()));

  log(`three worker processes on three engines: ${BURST} jobs at once`);
  const threeApps = await startApps(baseEnv("scale3"), engines, sim, cleanup);
  const three = await measureBurst(sim, redis, engines, threeApps, [
    { owner: "acme", installationId: 1, count: BURST },
  ]);
  const workerRss = threeApps.slice(1).map((app) => procStatusMiB(app.pid, "VmRSS"));
  await Promise.all(threeApps.map((app) => app.stop()));

  log(`a scaled-down GitHub budget: ${INSTALLATION_BURST} jobs of one installation, then of two`);
  const scaledApps = await startApps({ ...baseEnv("scalei"), ...SCALED_BUDGET }, engines, sim, cleanup);
  const half = INSTALLATION_BURST / 2;
  const oneInstallation = await measureBurst(sim, redis, engines, scaledApps, [
    { owner: "acme", installationId: 1, count: half },
    { owner: "acme", installationId: 1, count: half, labels: POOL_B.labels },
  ]);
  await waitForFullBudgets(redis, "scalei", 100, 300);
  // An idle acme runner left over would count as on its way for a globex job of the same pool.
  await waitFor(
    async () => (await Promise.all(engines.map((engine) => managedContainers(engine)))).every((count) => count === 0),
    { timeoutMs: PHASE_DEADLINE_MS, intervalMs: 500, what: "the first phase's idle runners to retire" },
  );
  const twoInstallations = await measureBurst(sim, redis, engines, scaledApps, [
    { owner: "acme", installationId: 1, count: half },
    { owner: "globex", installationId: 2, count: half, labels: POOL_B.labels },
  ]);
  await Promise.all(scaledApps.map((app) => app.stop()));

  const perMinute = (ms: number, jobs: number) => (jobs * 60_000) / ms;
  const rows: Row[] = [
    row(`runners a minute, ${BURST} jobs, 1 worker process`, "count", one.runnersPerMinute, perMinute(aloneOne, BURST)),
    row(
      `runners a minute, ${BURST} jobs, 3 worker processes (3 engines)`,
      "count",
      three.runnersPerMinute,
      perMinute(aloneThree, BURST),
    ),
    row("runners a minute, 3 worker processes against 1", "count", three.runnersPerMinute, one.runnersPerMinute),
    row(
      `runners a minute, ${INSTALLATION_BURST} jobs, 2 installations against 1 (GitHub budget / 3)`,
      "count",
      twoInstallations.runnersPerMinute,
      oneInstallation.runnersPerMinute,
    ),
    row("Redis commands per job, 1 worker process", "count", one.redisCommandsPerJob, null),
    row("Redis commands per job, 3 worker processes", "count", three.redisCommandsPerJob, one.redisCommandsPerJob),
    row("GitHub calls per job, 1 worker process", "calls", one.githubCallsPerJob, null),
    row("GitHub calls per job, 3 worker processes", "calls", three.githubCallsPerJob, one.githubCallsPerJob),
    row("CPU per job, all runnerhub processes, 1 worker", "ms", one.cpuMsPerJob, null),
    row("CPU per job, all runnerhub processes, 3 workers", "ms", three.cpuMsPerJob, one.cpuMsPerJob),
  ];
  const notes = [
    `baselines: Docker alone creating and starting ${BURST} containers at once on one engine ` +
      `(${Math.round(aloneOne)} ms), and ${BURST / engines.length} on each of three at once (${Math.round(aloneThree)} ms)`,
    `all started: 1 worker ${Math.round(one.allStartedMs)} ms, 3 workers ${Math.round(three.allStartedMs)} ms; ` +
      `installations: 1 ${Math.round(oneInstallation.allStartedMs)} ms, 2 ${Math.round(twoInstallations.allStartedMs)} ms`,
    `memory after the burst: front (all roles) ${frontRss.toFixed(1)} MiB RSS; worker-only processes ` +
      workerRss.map((rss) => `${rss.toFixed(1)} MiB`).join(", "),
    "per job: everything from the queued webhook to the completed webhook, container removal included, all processes",
  ];
  const report = {
    command: "npm run bench (bench/scale-out.ts)",
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    cpus: os.cpus().length,
    rows,
    notes,
    details: { one, three, oneInstallation, twoInstallations, aloneOne, aloneThree, frontRss, workerRss },
  };
  const out = path.join(os.tmpdir(), `runnerhub-bench-scale-${startedAt.toISOString().replace(/[:.]/g, "-")}.json`);
  await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(
    `\nrunnerhub scale-out bench — ${os.cpus().length} CPUs\n\n${formatTable(rows)}\n\n` +
      `${notes.map((note) => `- ${note}`).join("\n")}\n\nJSON: ${out}\n`,
  );
}

async function main(): Promise<void> {
  const cleanup = new Cleanup();
  const stop = () => void cleanup.run().then(() => process.exit(130));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    await withDeadline(runBench(cleanup), TOTAL_DEADLINE_MS, "the scale-out benchmark");
  } catch (error) {
    log(`failed: ${reason(error)}`);
    process.exitCode = 1;
  } finally {
    await cleanup.run();
  }
}

await main();
