/**
 * `npm run demo`: runnerhub end to end on this machine, without a GitHub App. It starts a
 * throwaway Redis, the GitHub simulator of the tests and the built app, uses the local Docker
 * engine (or a private dockerd when the local one does not answer or already runs runnerhub
 * containers), feeds a stream of jobs of two pools (some crash, some get OOM-killed; runners
 * boot for a few seconds, as real ones do) and prints where to watch. Ctrl-C, SIGTERM or the end of --duration stops everything it started, in order.
 *
 * Options: --duration 90s (or RUNNERHUB_DEMO_DURATION; default: until stopped), --port 3000.
 * Needs what the tests need: root (for a private dockerd), redis-server, busybox-static.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type Dockerode from "dockerode";
import { stringify } from "yaml";
import { parseDuration } from "../src/config/units.js";
import { LABELS } from "../src/docker/labels.js";
import { GitHubSimulator, type JobBehavior, type SimJob } from "../test/sim/github-simulator.js";
import { buildStubImage, STUB_IMAGE_TAG } from "../test/sim/stub-image.js";
import { freePort, startApp, type AppProcess } from "../test/support/app-process.js";
import { DockerEngine, dockerClient } from "../test/support/docker-engine.js";
import { RedisServer } from "../test/support/redis-server.js";
import { testPrivateKey } from "../test/integration/support/context.js";

const WEBHOOK_SECRET = "demo-webhook-secret";
const DEFAULT_PORT = 3000;
const LOCAL_SOCKET = "unix:///var/run/docker.sock";
const STATUS_EVERY_MS = 5_000;
const LOST_RUNNER_CHECK_MS = 1_000;
/** A real runner takes seconds from container start to listening for jobs; the stub plays that. */
const BOOT_SECONDS = "4";
/** Stub runners reach the simulator on 127.0.0.1: host network, as in the tests (never a bridge). */
const POOLS = [
  {
    name: "demo-linux",
    labels: ["self-hosted", "linux", "x64"],
    image: STUB_IMAGE_TAG,
    maxRunners: 4,
    network: "host",
    allowHostNetwork: true,
    resources: { memory: "64m", pids: 128 },
    env: { STUB_BOOT_SECONDS: BOOT_SECONDS },
  },
  {
    name: "demo-big",
    labels: ["self-hosted", "linux", "big"],
    image: STUB_IMAGE_TAG,
    maxRunners: 2,
    network: "host",
    allowHostNetwork: true,
    resources: { memory: "128m", pids: 128 },
    env: { STUB_BOOT_SECONDS: BOOT_SECONDS },
  },
];
const POOL_NAMES = POOLS.map((pool) => pool.name);

function say(message: string): void {
  process.stdout.write(`${message}\n`);
}

function option(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

function durationMs(): number | undefined {
  const text = option("duration") ?? process.env.RUNNERHUB_DEMO_DURATION;
  if (text === undefined) return undefined;
  const ms = parseDuration(/^\d+$/.test(text) ? `${text}s` : text);
  if (ms === undefined || ms <= 0) throw new Error(`--duration ${text}: use e.g. 90s or 5m`);
  return ms;
}

/** Mostly short successful jobs; now and then a long one, a crash or an OOM kill. */
function pickJob(random: () => number): { labels: string[]; behavior: JobBehavior } {
  const labels = random() < 0.7 ? ["self-hosted", "linux"] : ["self-hosted", "linux", "big"];
  const roll = random();
  if (roll < 0.08) return { labels, behavior: { kind: "oom" } };
  if (roll < 0.16) return { labels, behavior: { kind: "crash", exitCode: 1 } };
  const seconds = roll < 0.3 ? 15 + Math.floor(random() * 15) : 2 + Math.floor(random() * 8);
  return { labels, behavior: { kind: "run", seconds } };
}

async function answers(docker: Dockerode): Promise<boolean> {
  return docker.ping().then(
    () => true,
    () => false,
  );
}

/** Stops what was started, last started first; each step runs even if an earlier one failed. */
class Stack {
  private readonly steps: { what: string; run: () => Promise<unknown> }[] = [];

  add(what: string, run: () => Promise<unknown>): void {
    this.steps.push({ what, run });
  }

  async stop(): Promise<boolean> {
    let clean = true;
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step.run();
      } catch (error) {
        clean = false;
        say(`could not stop ${step.what}: ${(error as Error).message}`);
      }
    }
    return clean;
  }
}

/**
 * The local engine when it answers and holds no runnerhub containers (the demo's reconciler
 * would take those for strays); otherwise a private dockerd, as the tests start it.
 */
async function chooseEngine(stack: Stack): Promise<{ host: string; docker: Dockerode }> {
  const host = process.env.DOCKER_HOST || LOCAL_SOCKET;
  const local = dockerClient(host);
  if (await answers(local)) {
    const managed = await local.listContainers({ all: true, filters: { label: [`${LABELS.managed}=true`] } });
    if (managed.length === 0) return { host, docker: local };
    say(`${host} already runs runnerhub containers; using a private Docker engine instead`);
  } else {
    say(`no Docker engine answers at ${host}; starting a private one`);
  }
  const engine = await DockerEngine.start({ ownProcessGroup: true });
  stack.add("the private Docker engine", () => engine.destroy());
  return { host: engine.dockerHost, docker: dockerClient(engine.dockerHost) };
}

async function removeDemoRunners(docker: Dockerode): Promise<void> {
  const containers = await docker.listContainers({ all: true, filters: { label: [`${LABELS.managed}=true`] } });
  const ours = containers.filter((c) => POOL_NAMES.includes(c.Labels[LABELS.pool] ?? ""));
  await Promise.all(ours.map((c) => docker.getContainer(c.Id).remove({ force: true })));
}

async function start(stack: Stack): Promise<{ app: AppProcess; sim: GitHubSimulator; docker: Dockerode }> {
  const redis = await RedisServer.start({ ownProcessGroup: true });
  stack.add("redis-server", () => redis.stop());
  say(`redis-server: ${redis.url} (pid ${redis.pid})`);

  const { host, docker } = await chooseEngine(stack);
  // Built every time (Docker's layer cache makes a repeat quick): an image left by an older
  // checkout would ignore what the stub has learnt since, such as STUB_BOOT_SECONDS.
  say(`building the stub runner image ${STUB_IMAGE_TAG}`);
  await buildStubImage(docker, STUB_IMAGE_TAG);
  say(`Docker engine: ${host}`);

  const sim = await GitHubSimulator.start({ webhookSecret: WEBHOOK_SECRET });
  stack.add("the GitHub simulator", () => sim.stop());
  // Runners outlive a stopped runnerhub by design; the demo's go before the simulator they poll.
  stack.add("the demo's runner containers", () => removeDemoRunners(docker));

  const dir = await mkdtemp(path.join(os.tmpdir(), "runnerhub-demo-"));
  stack.add("the demo's folder", () => rm(dir, { recursive: true, force: true }));
  const poolsFile = path.join(dir, "pools.yml");
  await writeFile(poolsFile, stringify(POOLS));

  const wanted = Number(option("port") ?? DEFAULT_PORT);
  const port = await portOrFree(wanted);
  const adminToken = randomBytes(16).toString("hex");
  const app = await startApp({
    ownProcessGroup: true,
    env: {
      APP_ID: "1",
      PRIVATE_KEY: testPrivateKey,
      WEBHOOK_SECRET,
      GHE_HOST: sim.host,
      GHE_PROTOCOL: "http",
      HOST: "127.0.0.1",
      PORT: String(port),
      LOG_LEVEL: "warn",
      REDIS_URL: redis.url,
      RUNNERHUB_REDIS_PREFIX: "demo",
      DOCKER_HOST: host,
      RUNNERHUB_ENGINE_NAME: "demo",
      RUNNERHUB_CONFIG: poolsFile,
      RUNNERHUB_STOP_GRACE: "5s",
      RUNNERHUB_RECONCILE_INTERVAL: "10s",
      ADMIN_TOKEN: adminToken,
    },
  });
  stack.add("runnerhub", () => app.stop("SIGTERM"));
  sim.setWebhookUrl(`${app.url}/api/github/webhooks`);
  say("");
  say(`runnerhub is up: ${app.url} (pid ${app.pid})`);
  say(`Dashboard: ${app.url}/admin`);
  say(`Admin token: ${adminToken}`);
  say(`Queues (Bull Board): ${app.url}/admin/queues   Metrics: ${app.url}/metrics`);
  say(`CLI: RUNNERHUB_URL=${app.url} ADMIN_TOKEN=${adminToken} npx runnerhub pools ls`);
  say("Jobs are coming in; Ctrl-C stops everything.");
  say("");
  return { app, sim, docker };
}

async function portOrFree(wanted: number): Promise<number> {
  const taken = await fetch(`http://127.0.0.1:${wanted}/`).then(
    () => true,
    () => false,
  );
  return taken ? freePort() : wanted;
}

/** GitHub fails the job of a runner that died (crash, OOM kill); the simulator does it when told. */
async function reportLostRunners(sim: GitHubSimulator, docker: Dockerode, jobs: SimJob[]): Promise<void> {
  const dying = jobs
    .map((job) => sim.getJob(job.id))
    .filter((job): job is SimJob => job?.status === "in_progress" && job.behavior.kind !== "run");
  if (dying.length === 0) return;
  const running = new Set(
    (await docker.listContainers({ filters: { label: [`${LABELS.managed}=true`] } })).map(
      (c) => c.Labels[LABELS.runnerName],
    ),
  );
  for (const job of dying) {
    if (job.runnerId !== null && job.runnerName !== null && !running.has(job.runnerName)) {
      await sim.loseRunner(job.runnerId).catch(() => undefined);
    }
  }
}

function status(sim: GitHubSimulator, jobs: SimJob[], startedAt: number): string {
  const current = jobs.map((job) => sim.getJob(job.id));
  const count = (test: (job: SimJob) => boolean) => current.filter((job) => job !== undefined && test(job)).length;
  const seconds = Math.round((Date.now() - startedAt) / 1000);
  return (
    `[${seconds}s] jobs: ${count((j) => j.status === "queued")} queued, ` +
    `${count((j) => j.status === "in_progress")} running, ${count((j) => j.conclusion === "success")} succeeded, ` +
    `${count((j) => j.conclusion === "failure")} failed`
  );
}

async function main(): Promise<void> {
  const limit = durationMs();
  const stack = new Stack();
  const timers = new Set<NodeJS.Timeout>();
  let stopping = false;
  const later = (ms: number, run: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!stopping) run();
    }, ms);
    timers.add(timer);
  };
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    for (const timer of timers) clearTimeout(timer);
    say(`\n${why}: stopping runnerhub, its runners, the simulator and Redis`);
    const clean = await stack.stop();
    say(clean ? "stopped cleanly" : "stopped, with the problems above");
    process.exit(clean ? 0 : 1);
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => void stop(signal));

  let started: Awaited<ReturnType<typeof start>>;
  try {
    started = await start(stack);
  } catch (error) {
    say(`the demo could not start: ${(error as Error).message}`);
    await stack.stop();
    process.exit(1);
  }
  if (stopping) return;
  const { sim, docker } = started;
  const jobs: SimJob[] = [];
  const startedAt = Date.now();

  const feed = () => {
    const { labels, behavior } = pickJob(Math.random);
    sim
      .queueJob({ owner: "acme", repo: "demo", labels, behavior })
      .then((job) => jobs.push(job))
      .catch((error: unknown) => say(`could not queue a job: ${(error as Error).message}`));
    later(1_000 + Math.random() * 2_000, feed);
  };
  const watchLost = () => {
    reportLostRunners(sim, docker, jobs)
      .catch((error: unknown) => say(`could not check runners: ${(error as Error).message}`))
      .finally(() => later(LOST_RUNNER_CHECK_MS, watchLost));
  };
  const report = () => {
    say(status(sim, jobs, startedAt));
    later(STATUS_EVERY_MS, report);
  };
  feed();
  watchLost();
  later(STATUS_EVERY_MS, report);
  if (limit !== undefined) later(limit, () => void stop(`--duration ${limit / 1000}s reached`));
}

await main();
