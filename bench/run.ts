/**
 * `npm run bench`: runnerhub's scale-up speed and memory, each printed as a ratio against a
 * baseline measured in the same run on the same engine (see docs/benchmarks.md).
 *
 * It starts its own throwaway Redis, Docker engine and GitHub simulator, runs the built app
 * (dist/main.js) against them the way test/e2e/support/stack.ts does, and stops all of it at the
 * end, failure or not. Every wait is on an event or a poll with a deadline.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type Dockerode from "dockerode";
import { stringify } from "yaml";
import { poolSchema, type Pool } from "../src/config/pools.js";
import { LABELS } from "../src/docker/labels.js";
import { runnerContainerSpec } from "../src/docker/runner-spec.js";
import { GitHubSimulator, waitFor, type SimJob, type SimRequest } from "../test/sim/github-simulator.js";
import { buildStubImage, STUB_IMAGE_TAG } from "../test/sim/stub-image.js";
import { freePort, startApp, type AppProcess } from "../test/support/app-process.js";
import { DockerEngine } from "../test/support/docker-engine.js";
import { RedisServer } from "../test/support/redis-server.js";
import { ContainerEvents, type ContainerEvent } from "./lib/container-events.js";
import { procStatusMiB, sampleRss, sampleRssFor, startBareNode } from "./lib/memory.js";
import { formatTable, median, percentile, row, type Row } from "./lib/stats.js";

const SEQUENTIAL_JOBS = 15;
const BURST_JOBS = 30;
const JOB_SECONDS = 1;
const RSS_SAMPLE_MS = 100;
/** How long idle RSS is sampled; the median of the window is reported. */
const IDLE_WINDOW_MS = 2_000;
/** Hard bound on the whole run, so a hang fails instead of blocking CI forever. */
const TOTAL_DEADLINE_MS = 300_000;
const STEP_DEADLINE_MS = 30_000;
const BURST_DEADLINE_MS = 120_000;
const WEBHOOK_SECRET = "bench-webhook-secret";
const OWNER = "acme";
const REPO = "app";
const JOB_LABELS = ["self-hosted", "linux"];
/** Baseline containers carry this label and never the managed one, so the app never touches them. */
const BASELINE_LABEL = "com.github.runnerhub.bench";
const BASELINE_COMMAND = ["/bin/true"];

/** The pool of test/e2e/support/stack.ts (stub image, host network, 64m), sized for the burst. */
const POOL = {
  name: "linux",
  labels: ["self-hosted", "linux", "x64"],
  image: STUB_IMAGE_TAG,
  maxRunners: BURST_JOBS,
  network: "host",
  allowHostNetwork: true,
  resources: { memory: "64m", pids: 128 },
};

/**
 * Epoch ms from the system clock: Docker's event timeNano and the simulator's request times come
 * from the same clock, whereas performance.timeOrigin + now() can drift from it over a run.
 */
function wallNow(): number {
  return Date.now();
}

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

function reason(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** Everything the run started, stopped in reverse order exactly once, whatever happened. */
class Cleanup {
  private readonly steps: { what: string; stop: () => Promise<void> | void }[] = [];
  private running: Promise<void> | undefined;

  add(what: string, stop: () => Promise<void> | void): void {
    this.steps.push({ what, stop });
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.splice(0).reverse()) {
        try {
          await withDeadline(Promise.resolve(step.stop()), 60_000, `stopping ${step.what}`);
        } catch (error) {
          log(`could not stop ${step.what}: ${reason(error)}`);
        }
      }
    })();
    return this.running;
  }
}

// ---------------------------------------------------------------------------------------------
// Baselines: what the engine itself needs for the same container, and a bare node process.

function baselineSpec(pool: Pool, name: string): Dockerode.ContainerCreateOptions {
  // The app's own spec builder, so the HostConfig (limits, caps, network) is the same by construction.
  const spec = runnerContainerSpec({
    name,
    pool,
    runnerId: 0,
    githubJobId: 0,
    owner: OWNER,
    installationId: 1,
    registrationEnv: {},
  });
  return { ...spec, Cmd: BASELINE_COMMAND, Env: [], Labels: { [BASELINE_LABEL]: "baseline" } };
}

async function createAndStart(docker: Dockerode, spec: Dockerode.ContainerCreateOptions): Promise<string> {
  const container = await docker.createContainer(spec);
  await container.start();
  return container.id;
}

interface BaselineResult {
  sequentialMs: number[];
  burstAllStartedMs: number;
  burstStartsMs: number[];
}

async function measureBaseline(docker: Dockerode, pool: Pool): Promise<BaselineResult> {
  const events = await ContainerEvents.follow(docker, `${BASELINE_LABEL}=baseline`);
  try {
    const runOne = async (name: string): Promise<number> => {
      const t0 = wallNow();
      const id = await createAndStart(docker, baselineSpec(pool, name));
      const started = await events.waitFor(
        (e) => e.action === "start" && e.containerId === id,
        STEP_DEADLINE_MS,
        `start of ${name}`,
      );
      await events.waitFor((e) => e.action === "die" && e.containerId === id, STEP_DEADLINE_MS, `exit of ${name}`);
      await docker.getContainer(id).remove();
      return started.atMs - t0;
    };
    // The engine's first container pays one-off costs (image layers, cgroup setup); not counted.
    await runOne("bench-warmup");
    const sequentialMs: number[] = [];
    for (let i = 0; i < SEQUENTIAL_JOBS; i++) sequentialMs.push(await runOne(`bench-seq-${i}`));

    const t0 = wallNow();
    const ids = await Promise.all(
      Array.from({ length: BURST_JOBS }, (_, i) => createAndStart(docker, baselineSpec(pool, `bench-burst-${i}`))),
    );
    const wanted = new Set(ids);
    const starts = await events.waitForAll(
      (e) => e.action === "start" && wanted.has(e.containerId),
      BURST_JOBS,
      STEP_DEADLINE_MS,
      "baseline burst starts",
    );
    await events.waitForAll(
      (e) => e.action === "die" && wanted.has(e.containerId),
      BURST_JOBS,
      STEP_DEADLINE_MS,
      "baseline burst exits",
    );
    await Promise.all(ids.map((id) => docker.getContainer(id).remove()));
    const startsMs = starts.map((e) => e.atMs - t0);
    return { sequentialMs, burstAllStartedMs: Math.max(...startsMs), burstStartsMs: startsMs };
  } finally {
    events.close();
  }
}

// ---------------------------------------------------------------------------------------------
// runnerhub against the simulator

/**
 * When the simulator handed the runner its job: the runner's last poll (the stub stops polling
 * once it has a job, and the simulator marks the job in_progress within that request).
 */
function inProgressAt(requests: readonly SimRequest[], runnerId: number | null): number {
  if (runnerId === null) throw new Error("job has no runner");
  const pollPath = `/_sim/runners/${runnerId}/poll`;
  for (let i = requests.length - 1; i >= 0; i--) {
    const request = requests[i];
    if (request?.method === "POST" && request.path === pollPath) return request.at;
  }
  throw new Error(`no poll seen from runner ${runnerId}`);
}

const API_PREFIX = "/api/v3";

/** "METHOD /path" with ids folded, so calls group by endpoint. */
function endpoint(request: SimRequest): string {
  const apiPath = request.path.startsWith(API_PREFIX) ? request.path.slice(API_PREFIX.length) : request.path;
  return `${request.method} ${apiPath.replace(/\/\d+(?=\/|$)/g, "/{id}")}`;
}

/**
 * The app's GitHub calls, leaving out what the brief calls periodic (the reconciler's runner list
 * and the delivery-recovery API) and the stub runners' own protocol (/_sim/), which is not the app.
 */
function isCountedCall(request: SimRequest): boolean {
  if (!request.path.startsWith(`${API_PREFIX}/`)) return false;
  const key = endpoint(request);
  if (/^GET \/(orgs\/[^/]+|repos\/[^/]+\/[^/]+)\/actions\/runners$/.test(key)) return false;
  return !key.includes(" /app/hook/deliveries");
}

interface CallCount {
  total: number;
  perRunner: number;
  byEndpoint: Record<string, number>;
  excluded: Record<string, number>;
}

function countCalls(requests: readonly SimRequest[], runners: number): CallCount {
  const byEndpoint: Record<string, number> = {};
  const excluded: Record<string, number> = {};
  let total = 0;
  for (const request of requests) {
    if (request.path.startsWith("/_sim/")) continue;
    const key = endpoint(request);
    if (isCountedCall(request)) {
      total++;
      byEndpoint[key] = (byEndpoint[key] ?? 0) + 1;
    } else {
      excluded[key] = (excluded[key] ?? 0) + 1;
    }
  }
  return { total, perRunner: total / runners, byEndpoint, excluded };
}

interface Stack {
  sim: GitHubSimulator;
  app: AppProcess;
  events: ContainerEvents;
}

function queueJob(sim: GitHubSimulator): Promise<SimJob> {
  return sim.queueJob({
    owner: OWNER,
    repo: REPO,
    labels: JOB_LABELS,
    behavior: { kind: "run", seconds: JOB_SECONDS },
  });
}

function isStartOf(jobIds: ReadonlySet<string>): (e: ContainerEvent) => boolean {
  return (e) => e.action === "start" && jobIds.has(e.attributes[LABELS.githubJobId] ?? "");
}

/** Waits until every webhook the simulator owes the app (queued, in_progress, completed) went out. */
async function waitForDeliveries(sim: GitHubSimulator, count: number, timeoutMs: number): Promise<void> {
  await waitFor(() => sim.deliveries().length >= count, {
    timeoutMs,
    intervalMs: 20,
    what: `${count} webhook deliveries`,
  });
}

interface SequentialSample {
  jobId: number;
  toContainerStartMs: number;
  toInProgressMs: number;
  /** queued webhook sent -> the app's generate-jitconfig request reached the simulator */
  toJitConfigMs: number | null;
}

interface SequentialResult {
  samples: SequentialSample[];
  calls: CallCount;
}

async function measureSequential({ sim, events }: Stack): Promise<SequentialResult> {
  const firstRequest = sim.requests.length;
  const samples: SequentialSample[] = [];
  for (let i = 0; i < SEQUENTIAL_JOBS; i++) {
    const requestsBefore = sim.requests.length;
    const deliveriesBefore = sim.deliveries().length;
    const t0 = wallNow();
    const job = await queueJob(sim);
    const started = await events.waitFor(
      isStartOf(new Set([String(job.id)])),
      STEP_DEADLINE_MS,
      `the runner container of job ${job.id}`,
    );
    const done = await waitFor(
      () => {
        const current = sim.getJob(job.id);
        return current?.status === "completed" ? current : undefined;
      },
      { timeoutMs: STEP_DEADLINE_MS, intervalMs: 20, what: `job ${job.id} to complete` },
    );
    // The next job starts on a quiet system: container removed, all three webhooks delivered.
    await events.waitFor(
      (e) => e.action === "destroy" && e.containerId === started.containerId,
      STEP_DEADLINE_MS,
      `removal of job ${job.id}'s container`,
    );
    await waitForDeliveries(sim, deliveriesBefore + 3, STEP_DEADLINE_MS);
    const jit = sim.requests
      .slice(requestsBefore)
      .find((r) => r.method === "POST" && r.path.endsWith("/actions/runners/generate-jitconfig"));
    samples.push({
      jobId: job.id,
      toContainerStartMs: started.atMs - t0,
      toInProgressMs: inProgressAt(sim.requests, done.runnerId) - t0,
      toJitConfigMs: jit === undefined ? null : jit.at - t0,
    });
    log(
      `sequential ${i + 1}/${SEQUENTIAL_JOBS}: container ${Math.round(started.atMs - t0)} ms, ` +
        `in_progress ${Math.round(inProgressAt(sim.requests, done.runnerId) - t0)} ms`,
    );
  }
  return { samples, calls: countCalls(sim.requests.slice(firstRequest), SEQUENTIAL_JOBS) };
}

interface BurstResult {
  allStartedMs: number;
  allInProgressMs: number;
  startsMs: number[];
  /** first to last generate-jitconfig request: the GitHub write throttle shows here */
  jitConfigSpanMs: number;
  /** median gap between consecutive generate-jitconfig requests */
  jitConfigGapMs: number;
  peakRssMiB: number;
  rssSamples: number;
  calls: CallCount;
}

async function measureBurst({ sim, app, events }: Stack): Promise<BurstResult> {
  const firstRequest = sim.requests.length;
  const deliveriesBefore = sim.deliveries().length;
  const sampler = sampleRss(app.pid, RSS_SAMPLE_MS);
  let rss: number[] = [];
  try {
    const t0 = wallNow();
    // All 30 jobs exist at once; the simulator then delivers their webhooks one after another, as GitHub does.
    const jobs = await Promise.all(Array.from({ length: BURST_JOBS }, () => queueJob(sim)));
    const ids = new Set(jobs.map((job) => String(job.id)));
    const starts = await events.waitForAll(isStartOf(ids), BURST_JOBS, BURST_DEADLINE_MS, "all burst containers");
    const done = await waitFor(
      () => {
        const current = jobs.map((job) => sim.getJob(job.id));
        return current.every((job) => job?.status === "completed") ? current : undefined;
      },
      { timeoutMs: BURST_DEADLINE_MS, intervalMs: 50, what: "all burst jobs to complete" },
    );
    const containerIds = new Set(starts.map((e) => e.containerId));
    await events.waitForAll(
      (e) => e.action === "destroy" && containerIds.has(e.containerId),
      BURST_JOBS,
      STEP_DEADLINE_MS,
      "removal of all burst containers",
    );
    await waitForDeliveries(sim, deliveriesBefore + 3 * BURST_JOBS, STEP_DEADLINE_MS);
    rss = sampler.stop();
    const inProgress = done.map((job) => inProgressAt(sim.requests, job?.runnerId ?? null) - t0);
    const jitTimes = sim.requests
      .slice(firstRequest)
      .filter((r) => r.method === "POST" && r.path.endsWith("/actions/runners/generate-jitconfig"))
      .map((r) => r.at)
      .sort((a, b) => a - b);
    const gaps = jitTimes.slice(1).map((at, i) => at - (jitTimes[i] ?? at));
    const startsMs = starts.map((e) => e.atMs - t0);
    return {
      allStartedMs: Math.max(...startsMs),
      allInProgressMs: Math.max(...inProgress),
      startsMs,
      jitConfigSpanMs: jitTimes.length > 1 ? Math.max(...jitTimes) - Math.min(...jitTimes) : 0,
      jitConfigGapMs: median(gaps),
      peakRssMiB: Math.max(...rss),
      rssSamples: rss.length,
      calls: countCalls(sim.requests.slice(firstRequest), BURST_JOBS),
    };
  } finally {
    sampler.stop();
  }
}

// ---------------------------------------------------------------------------------------------

interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  docker: string;
  dockerApi: string;
}

async function describeMachine(docker: Dockerode): Promise<Machine> {
  const version = await docker.version();
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    kernel: os.release(),
    node: process.version,
    docker: version.Version,
    dockerApi: version.ApiVersion,
  };
}

async function runBench(cleanup: Cleanup): Promise<void> {
  const startedAt = new Date();
  log("starting redis-server and a private dockerd");
  const [redis, engine] = await Promise.all([RedisServer.start(), DockerEngine.start()]);
  cleanup.add("redis-server", () => redis.stop());
  cleanup.add("dockerd", () => engine.destroy());
  const docker = engine.client();
  log("building the stub runner image");
  await buildStubImage(docker, STUB_IMAGE_TAG);
  const machine = await describeMachine(docker);
  const pool = poolSchema.parse(POOL);

  log("baseline: containers created and started directly with dockerode");
  const baseline = await measureBaseline(docker, pool);

  log("baseline: RSS of a bare node process");
  const bare = await startBareNode(STEP_DEADLINE_MS);
  cleanup.add("bare node", () => bare.stop());
  const bareRss = median(await sampleRssFor(bare.pid, RSS_SAMPLE_MS, IDLE_WINDOW_MS));
  await bare.stop();

  const dir = await mkdtemp(path.join(os.tmpdir(), "runnerhub-bench-"));
  cleanup.add("the pools file", () => rm(dir, { recursive: true, force: true }));
  const poolsFile = path.join(dir, "pools.yml");
  await writeFile(poolsFile, stringify([POOL]));

  const sim = await GitHubSimulator.start({ webhookSecret: WEBHOOK_SECRET });
  cleanup.add("the GitHub simulator", () => sim.stop());
  const events = await ContainerEvents.follow(docker, `${LABELS.managed}=true`);
  cleanup.add("the docker events stream", () => events.close());
  log("starting runnerhub (dist/main.js)");
  const app = await startApp({
    env: {
      APP_ID: "1",
      PRIVATE_KEY: generateKeyPairSync("rsa", { modulusLength: 2048 })
        .privateKey.export({ type: "pkcs1", format: "pem" })
        .toString(),
      WEBHOOK_SECRET,
      GHE_HOST: sim.host,
      GHE_PROTOCOL: "http",
      HOST: "127.0.0.1",
      PORT: String(await freePort()),
      LOG_LEVEL: "info",
      REDIS_URL: redis.url,
      RUNNERHUB_REDIS_PREFIX: "bench",
      DOCKER_HOST: engine.dockerHost,
      RUNNERHUB_ENGINE_NAME: "bench",
      RUNNERHUB_CONFIG: poolsFile,
      RUNNERHUB_STOP_GRACE: "5s",
    },
  });
  cleanup.add("runnerhub", async () => {
    await app.stop();
  });
  sim.setWebhookUrl(`${app.url}/api/github/webhooks`);
  const stack: Stack = { sim, app, events };

  // Start-up runs delivery recovery at once; idle means after that first pass, not during it.
  await waitFor(() => sim.requests.some((r) => r.path.startsWith(`${API_PREFIX}/app/hook/deliveries`)), {
    timeoutMs: STEP_DEADLINE_MS,
    intervalMs: 50,
    what: "runnerhub's start-up delivery check",
  });
  const idleRss = median(await sampleRssFor(app.pid, RSS_SAMPLE_MS, IDLE_WINDOW_MS));

  log(`sequential: ${SEQUENTIAL_JOBS} jobs, one at a time`);
  const sequential = await measureSequential(stack);
  log(`burst: ${BURST_JOBS} jobs queued at once`);
  const burst = await measureBurst(stack);
  const hwm = procStatusMiB(app.pid, "VmHWM");

  const toStart = sequential.samples.map((s) => s.toContainerStartMs);
  const toInProgress = sequential.samples.map((s) => s.toInProgressMs);
  const baseMedian = median(baseline.sequentialMs);
  const rows: Row[] = [
    row("scale-up: webhook -> container start, median", "ms", median(toStart), baseMedian),
    row(
      "scale-up: webhook -> container start, p95",
      "ms",
      percentile(toStart, 95),
      percentile(baseline.sequentialMs, 95),
    ),
    row("scale-up: webhook -> job in_progress, median", "ms", median(toInProgress), baseMedian),
    row(
      "scale-up: webhook -> job in_progress, p95",
      "ms",
      percentile(toInProgress, 95),
      percentile(baseline.sequentialMs, 95),
    ),
    row(`burst ${BURST_JOBS}: all containers started`, "ms", burst.allStartedMs, baseline.burstAllStartedMs),
    row(`burst ${BURST_JOBS}: all jobs in_progress`, "ms", burst.allInProgressMs, baseline.burstAllStartedMs),
    row("memory: RSS idle after start", "MiB", idleRss, bareRss),
    row(`memory: RSS peak during burst (${RSS_SAMPLE_MS} ms samples)`, "MiB", burst.peakRssMiB, bareRss),
    row("GitHub calls per runner, sequential", "calls", sequential.calls.perRunner, null),
    row("GitHub calls per runner, burst", "calls", burst.calls.perRunner, null),
  ];
  const jitLatencies = sequential.samples.flatMap((s) => (s.toJitConfigMs === null ? [] : [s.toJitConfigMs]));
  const notes = [
    `baseline for latency rows: create+start of the same container with dockerode, ${SEQUENTIAL_JOBS} sequential ` +
      `(median ${Math.round(baseMedian)} ms); burst baseline: ${BURST_JOBS} in parallel`,
    `sequential breakdown (medians): webhook -> generate-jitconfig ${Math.round(median(jitLatencies))} ms, ` +
      `-> container start ${Math.round(median(toStart))} ms, -> in_progress ${Math.round(median(toInProgress))} ms; ` +
      `first job ${Math.round(toStart[0] ?? Number.NaN)} ms to container start`,
    `burst: generate-jitconfig requests ${Math.round(burst.jitConfigGapMs)} ms apart (median), first to last ` +
      `${Math.round(burst.jitConfigSpanMs)} ms; src/github/octokit.ts configures one write per 334 ms`,
    `memory: app VmHWM (kernel peak over the whole run) ${hwm.toFixed(1)} MiB; baseline is \`node -e\` with no imports`,
  ];

  const report = {
    command: "npm run bench",
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    machine,
    settings: {
      sequentialJobs: SEQUENTIAL_JOBS,
      burstJobs: BURST_JOBS,
      jobSeconds: JOB_SECONDS,
      rssSampleMs: RSS_SAMPLE_MS,
      pool: POOL,
      baselineCommand: BASELINE_COMMAND,
    },
    rows,
    notes,
    details: {
      baseline: { ...baseline, bareNodeRssMiB: bareRss },
      sequential,
      burst,
      memory: { idleRssMiB: idleRss, peakRssMiB: burst.peakRssMiB, vmHwmMiB: hwm, bareNodeRssMiB: bareRss },
    },
  };
  const out = path.join(os.tmpdir(), `runnerhub-bench-${startedAt.toISOString().replace(/[:.]/g, "-")}.json`);
  await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);

  const m = machine;
  process.stdout.write(
    `\nrunnerhub bench — ${m.cpus} CPUs, ${m.memoryGiB} GiB, Node ${m.node}, Docker ${m.docker} (API ${m.dockerApi})\n\n` +
      `${formatTable(rows)}\n\n${notes.map((n) => `- ${n}`).join("\n")}\n\nJSON: ${out}\n`,
  );
}

async function main(): Promise<void> {
  const cleanup = new Cleanup();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping what the benchmark started`);
      void cleanup.run().finally(() => process.exit(130));
    });
  }
  let failed = false;
  try {
    await withDeadline(runBench(cleanup), TOTAL_DEADLINE_MS, "the benchmark");
  } catch (error) {
    failed = true;
    log(`failed: ${reason(error)}`);
  } finally {
    log("stopping services");
    await cleanup.run();
  }
  // Explicit exit: after a failure, abandoned waits and sockets may still hold the event loop.
  process.exit(failed ? 1 : 0);
}

await main();
