/**
 * The warm-pool rows of `npm run bench` (issue 17): one seeded arrival trace replayed against four
 * settings of one pool — cold, a static floor at peak, a schedule, adaptive — with runners that
 * boot for BOOT_SECONDS before they take a job, as a real runner does. Rows: pickup time (the
 * queued webhook to the in_progress webhook) p50/p95/max, idle runner-seconds per job (container
 * lifetimes minus the jobs' run times, over the whole trace), and runners started per job.
 *
 * Each setting gets a fresh runnerhub process on its own Redis prefix, against the same throwaway
 * Redis, Docker engine and GitHub simulator. Every wait is on an event or a poll with a deadline.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type Dockerode from "dockerode";
import { stringify } from "yaml";
import { LABELS } from "../src/docker/labels.js";
import { GitHubSimulator, waitFor, type SimDelivery } from "../test/sim/github-simulator.js";
import { buildStubImage, STUB_IMAGE_TAG } from "../test/sim/stub-image.js";
import { freePort, startApp } from "../test/support/app-process.js";
import { DockerEngine } from "../test/support/docker-engine.js";
import { RedisServer } from "../test/support/redis-server.js";
import { ContainerEvents, type ContainerEvent } from "./lib/container-events.js";
import { appPrivateKey, benchAppEnv, Cleanup, log, reason, withDeadline } from "./lib/harness.js";
import { median, percentile } from "./lib/stats.js";

const BOOT_SECONDS = 4;
/** Job run times are drawn evenly from this range (seconds). */
const JOB_SECONDS = [5, 10] as const;
/**
 * The trace, in seconds from its start: a ramp from nothing to the peak rate, a steady spell (an
 * hour of steady demand compressed to a minute), then a lull long enough for idle runners to retire.
 */
const RAMP_S = 20;
const STEADY_S = 60;
const LULL_S = 40;
const PEAK_PER_SECOND = 0.4;
/** Before the first job: time for a warm floor to be built (one boot and a reconcile pass). */
const LEAD_IN_S = 15;
const SEED = 17;
/** Idle runners beyond the target retire after this (10m by default, compressed like the trace). */
const IDLE_TIMEOUT = "20s";
const STATIC_FLOOR = 3;
const MAX_IDLE = 6;
const WEBHOOK_SECRET = "bench-webhook-secret";
const LABELS_OF_JOB = ["self-hosted", "linux"];
const DEADLINE_MS = 600_000;

interface Arrival {
  atMs: number;
  jobSeconds: number;
}

/** mulberry32: a small seeded generator, so every setting sees the very same trace. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function rateAt(second: number): number {
  if (second < RAMP_S) return (PEAK_PER_SECOND * second) / RAMP_S;
  return second < RAMP_S + STEADY_S ? PEAK_PER_SECOND : 0;
}

/** A Poisson process with the rate above, by thinning a process at the peak rate. */
function arrivalTrace(seed = SEED): Arrival[] {
  const random = seeded(seed);
  const arrivals: Arrival[] = [];
  for (let second = 0; ;) {
    second += -Math.log(1 - random()) / PEAK_PER_SECOND;
    if (second >= RAMP_S + STEADY_S) return arrivals;
    if (random() * PEAK_PER_SECOND < rateAt(second)) {
      const jobSeconds = JOB_SECONDS[0] + random() * (JOB_SECONDS[1] - JOB_SECONDS[0]);
      arrivals.push({ atMs: Math.round(second * 1000), jobSeconds: Math.round(jobSeconds * 10) / 10 });
    }
  }
}

interface Setting {
  name: string;
  pool: Record<string, unknown>;
}

const SETTINGS: Setting[] = [
  { name: "cold (minIdle 0)", pool: { minIdle: 0 } },
  { name: `static (minIdle ${STATIC_FLOOR})`, pool: { minIdle: STATIC_FLOOR } },
  {
    // The compressed trace fits in minutes that all match, so within its hours a schedule is the
    // static floor; what it saves is the hours outside them, which a trace of minutes cannot show.
    name: `scheduled (${STATIC_FLOOR} while the cron matches)`,
    pool: { minIdle: 0, schedule: [{ cron: "* * * * *", timezone: "UTC", minIdle: STATIC_FLOOR }] },
  },
  {
    // forecastWindow no longer than idleTimeout, as docs/configuration.md advises.
    name: `adaptive (maxIdle ${MAX_IDLE}, forecastWindow ${IDLE_TIMEOUT})`,
    pool: { minIdle: 0, warm: "adaptive", maxIdle: MAX_IDLE, forecastWindow: IDLE_TIMEOUT },
  },
];

interface WarmRow {
  setting: string;
  jobs: number;
  pickupP50Ms: number;
  pickupP95Ms: number;
  pickupMaxMs: number;
  idleRunnerSecondsPerJob: number;
  runnersPerJob: number;
}

function jobIdOf(delivery: SimDelivery): number {
  return (JSON.parse(delivery.body) as { workflow_job: { id: number } }).workflow_job.id;
}

/** When each job's webhook of this action was sent, by job id. */
function sentAt(deliveries: readonly SimDelivery[], action: string): Map<number, number> {
  const at = new Map<number, number>();
  for (const delivery of deliveries) {
    if (delivery.event !== "workflow_job" || delivery.action !== action || delivery.redelivery) continue;
    const id = jobIdOf(delivery);
    if (!at.has(id)) at.set(id, delivery.sentAt);
  }
  return at;
}

/** Seconds of [from, to] that also lie within [windowStart, windowEnd]. */
function overlapSeconds(from: number, to: number, windowStart: number, windowEnd: number): number {
  return Math.max(0, Math.min(to, windowEnd) - Math.max(from, windowStart)) / 1000;
}

/** Runner containers' lifetimes (start to die, or to the window's end) within the window. */
function runnerSeconds(events: readonly ContainerEvent[], windowStart: number, windowEnd: number) {
  let seconds = 0;
  let started = 0;
  for (const start of events.filter((event) => event.action === "start")) {
    if (start.atMs >= windowStart && start.atMs <= windowEnd) started++;
    const end = events.find((event) => event.action === "die" && event.containerId === start.containerId);
    seconds += overlapSeconds(start.atMs, end?.atMs ?? windowEnd, windowStart, windowEnd);
  }
  return { seconds, started };
}

interface Services {
  docker: Dockerode;
  redisUrl: string;
  dockerHost: string;
  sim: GitHubSimulator;
  dir: string;
  privateKey: string;
}

async function removeRunners(docker: Dockerode): Promise<void> {
  const left = await docker.listContainers({ all: true, filters: { label: [`${LABELS.managed}=true`] } });
  await Promise.all(left.map((info) => docker.getContainer(info.Id).remove({ force: true })));
}

async function replay(services: Services, setting: Setting, index: number): Promise<WarmRow> {
  const { docker, sim } = services;
  const poolsFile = path.join(services.dir, `pools-${index}.yml`);
  await writeFile(
    poolsFile,
    stringify([
      {
        name: "linux",
        labels: ["self-hosted", "linux", "x64"],
        image: STUB_IMAGE_TAG,
        maxRunners: 12,
        network: "host",
        allowHostNetwork: true,
        resources: { memory: "64m", pids: 128 },
        env: { STUB_BOOT_SECONDS: String(BOOT_SECONDS) },
        warmScope: "acme",
        idleTimeout: IDLE_TIMEOUT,
        ...setting.pool,
      },
    ]),
  );
  const events = await ContainerEvents.follow(docker, `${LABELS.managed}=true`);
  const app = await startApp({
    env: {
      ...benchAppEnv({
        githubHost: sim.host,
        webhookSecret: WEBHOOK_SECRET,
        redisUrl: services.redisUrl,
        prefix: `warm${index}`,
        poolsFile,
        privateKey: services.privateKey,
      }),
      PORT: String(await freePort()),
      LOG_LEVEL: "warn",
      DOCKER_HOST: services.dockerHost,
      RUNNERHUB_ENGINE_NAME: "bench",
      RUNNERHUB_STOP_GRACE: "2s",
    },
  });
  try {
    sim.setWebhookUrl(`${app.url}/api/github/webhooks`);
    const windowStart = Date.now();
    await new Promise((resolve) => setTimeout(resolve, LEAD_IN_S * 1000));
    const traceStart = Date.now();
    const jobIds: number[] = [];
    for (const arrival of arrivalTrace()) {
      const wait = traceStart + arrival.atMs - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const job = await sim.queueJob({
        owner: "acme",
        repo: "app",
        labels: LABELS_OF_JOB,
        behavior: { kind: "run", seconds: arrival.jobSeconds },
      });
      jobIds.push(job.id);
    }
    await waitFor(() => jobIds.every((id) => sim.getJob(id)?.status === "completed"), {
      timeoutMs: 120_000,
      intervalMs: 200,
      what: `${jobIds.length} jobs of "${setting.name}" to complete`,
    });
    const windowEnd = Math.max(traceStart + (RAMP_S + STEADY_S + LULL_S) * 1000, Date.now());
    const wait = windowEnd - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const deliveries = sim.deliveries();
    const queued = sentAt(deliveries, "queued");
    const taken = sentAt(deliveries, "in_progress");
    const completed = sentAt(deliveries, "completed");
    const pickups = jobIds.map((id) => (taken.get(id) ?? Number.NaN) - (queued.get(id) ?? Number.NaN));
    const busySeconds = jobIds.reduce(
      (sum, id) => sum + overlapSeconds(taken.get(id) ?? 0, completed.get(id) ?? 0, windowStart, windowEnd),
      0,
    );
    const runners = runnerSeconds(events.seen, windowStart, windowEnd);
    return {
      setting: setting.name,
      jobs: jobIds.length,
      pickupP50Ms: median(pickups),
      pickupP95Ms: percentile(pickups, 95),
      pickupMaxMs: Math.max(...pickups),
      idleRunnerSecondsPerJob: (runners.seconds - busySeconds) / jobIds.length,
      runnersPerJob: runners.started / jobIds.length,
    };
  } finally {
    await app.stop();
    events.close();
    await removeRunners(docker);
  }
}

function formatRows(rows: readonly WarmRow[]): string {
  const head = "| setting | jobs | pickup p50 | pickup p95 | pickup max | idle runner-s per job | runners per job |";
  const lines = rows.map(
    (r) =>
      `| ${r.setting} | ${r.jobs} | ${(r.pickupP50Ms / 1000).toFixed(2)} s | ${(r.pickupP95Ms / 1000).toFixed(2)} s | ` +
      `${(r.pickupMaxMs / 1000).toFixed(2)} s | ${r.idleRunnerSecondsPerJob.toFixed(1)} | ${r.runnersPerJob.toFixed(2)} |`,
  );
  return [head, "| --- | --- | --- | --- | --- | --- | --- |", ...lines].join("\n");
}

async function runWarmPools(cleanup: Cleanup): Promise<void> {
  log("warm pools: starting redis-server, a private dockerd and the GitHub simulator");
  const [redis, engine] = await Promise.all([RedisServer.start(), DockerEngine.start()]);
  cleanup.add("redis-server", () => redis.stop());
  cleanup.add("dockerd", () => engine.destroy());
  const docker = engine.client();
  await buildStubImage(docker, STUB_IMAGE_TAG);
  const dir = await mkdtemp(path.join(os.tmpdir(), "runnerhub-bench-warm-"));
  cleanup.add("the pools files", () => rm(dir, { recursive: true, force: true }));
  const sim = await GitHubSimulator.start({ webhookSecret: WEBHOOK_SECRET });
  cleanup.add("the GitHub simulator", () => sim.stop());
  const privateKey = appPrivateKey();
  const services: Services = { docker, redisUrl: redis.url, dockerHost: engine.dockerHost, sim, dir, privateKey };
  const trace = arrivalTrace();
  log(`warm pools: ${trace.length} jobs over ${RAMP_S + STEADY_S} s (seed ${SEED}), runners booting ${BOOT_SECONDS} s`);
  const rows: WarmRow[] = [];
  for (const [index, setting] of SETTINGS.entries()) {
    log(`warm pools: ${setting.name}`);
    rows.push(await replay(services, setting, index));
  }
  process.stdout.write(`\n## Warm pools (npx tsx bench/warm-pools.ts)\n\n${formatRows(rows)}\n`);
  process.stdout.write(`${JSON.stringify({ warmPools: rows })}\n`);
}

async function main(): Promise<void> {
  const cleanup = new Cleanup();
  let failed = false;
  try {
    await withDeadline(runWarmPools(cleanup), DEADLINE_MS, "the warm-pool benchmark");
  } catch (error) {
    failed = true;
    log(`failed: ${reason(error)}`);
  } finally {
    await cleanup.run();
  }
  process.exit(failed ? 1 : 0);
}

await main();
