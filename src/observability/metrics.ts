import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export type Metrics = ReturnType<typeof createMetrics>;

/** From sub-second steps (a JIT config call) to jobs parked for many minutes on a full pool. */
const WAIT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600];

/**
 * The phases of a job's wait, in order. Each is a histogram by pool; together (with the image pull
 * of the engine adapter) they say where the time from GitHub queueing a job to a runner taking it went.
 */
const PHASES = {
  webhookDelay: [
    "runnerhub_webhook_delay_seconds",
    "From GitHub creating the job (created_at) to its queued webhook arriving",
  ],
  queueWait: ["runnerhub_queue_wait_seconds", "From the demand being enqueued to a worker taking it up"],
  capacityWait: [
    "runnerhub_capacity_wait_seconds",
    "Time demand was parked on a full pool or engine (0 when never parked)",
  ],
  jitConfig: [
    "runnerhub_jit_config_seconds",
    "The GitHub call that registers the runner (JIT config or registration token)",
  ],
  containerStart: ["runnerhub_container_start_seconds", "Creating and starting the runner container"],
  runnerOnline: [
    "runnerhub_runner_online_seconds",
    "From the runner container starting to its runner being online (seen online at GitHub or taking a job)",
  ],
  jobStart: ["runnerhub_job_start_seconds", "From the job's queued webhook arriving to its in_progress webhook"],
} as const;

type Phase = keyof typeof PHASES;

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]) {
  return new Counter({ name, help, labelNames, registers: [registry] });
}

function gauge<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]) {
  return new Gauge({ name, help, labelNames, registers: [registry] });
}

function histogram<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  buckets: number[],
) {
  return new Histogram({ name, help, labelNames, buckets, registers: [registry] });
}

function phase(registry: Registry, key: Phase) {
  return histogram(registry, PHASES[key][0], PHASES[key][1], ["pool"], WAIT_BUCKETS);
}

/** Jobs as GitHub reports them, and the webhooks that tell of them. */
function jobMetrics(registry: Registry) {
  return {
    webhooks: counter(registry, "runnerhub_webhooks_total", "workflow_job webhooks received, by action and outcome", [
      "action",
      "outcome",
    ]),
    jobsIgnored: counter(registry, "runnerhub_jobs_ignored_total", "Queued jobs no pool serves, by reason", ["reason"]),
    jobsUnmatched: counter(
      registry,
      "runnerhub_jobs_unmatched_total",
      "Queued self-hosted jobs no pool serves (a label or size no pool offers, no labels and no groupDefault pool), by reason",
      ["reason"],
    ),
    jobsQueued: counter(
      registry,
      "runnerhub_jobs_queued_total",
      "Jobs GitHub queued for a pool (redeliveries not counted)",
      ["pool"],
    ),
    jobsStarted: counter(
      registry,
      "runnerhub_jobs_started_total",
      "Jobs of a pool that a runner took (first in_progress webhook)",
      ["pool"],
    ),
    jobsCompleted: counter(
      registry,
      "runnerhub_jobs_completed_total",
      "Jobs of a pool that ended, by GitHub's conclusion",
      ["pool", "conclusion"],
    ),
  };
}

/** Runner containers: made, failed, ended, and what they used. */
function runnerMetrics(registry: Registry) {
  return {
    runnersCreated: counter(registry, "runnerhub_runners_created_total", "Runner containers created, by pool", [
      "pool",
    ]),
    provisionFailures: counter(
      registry,
      "runnerhub_provision_failures_total",
      "Provisioning attempts that failed, by pool",
      ["pool"],
    ),
    runnerExits: counter(
      registry,
      "runnerhub_runner_exits_total",
      "Runner containers that exited, by pool and reason",
      ["pool", "reason"],
    ),
    oomKills: counter(
      registry,
      "runnerhub_oom_kills_total",
      "Runner containers the kernel killed for exceeding the pool's memory limit",
      ["pool"],
    ),
    overflows: counter(
      registry,
      "runnerhub_overflows_total",
      "Jobs moved to a pool's overflow pool because their pool could not start them, by pool moved from and to",
      ["from", "to"],
    ),
    crashLoopBackoffs: counter(
      registry,
      "runnerhub_crash_loop_backoffs_total",
      "Backoffs begun because a pool's runners kept ending before taking a job, by pool",
      ["pool"],
    ),
    oomReruns: counter(
      registry,
      "runnerhub_oom_reruns_total",
      "Jobs re-run on a bigger pool after their runner was OOM-killed, by pool and retry pool",
      ["pool", "retry_pool"],
    ),
    idleRunnerSeconds: counter(
      registry,
      "runnerhub_pool_idle_runner_seconds_total",
      "Seconds runners of the pool were up without a job, from container start (boot included) until they took " +
        "a job or ended without one; counted then (the in_progress webhook, or the container's end)",
      ["pool"],
    ),
    provisionSeconds: histogram(
      registry,
      "runnerhub_provision_seconds",
      "From the queued webhook to a started runner container",
      ["pool"],
      [0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
    ),
    runnerPeakMemory: histogram(
      registry,
      "runnerhub_runner_peak_memory_bytes",
      "Peak memory of a runner container that ran a job, by pool (size pools' memory from it)",
      ["pool"],
      [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16_384, 32_768].map((mib) => mib * 1024 * 1024),
    ),
    runnerCpuSeconds: histogram(
      registry,
      "runnerhub_runner_cpu_seconds",
      "CPU time a runner container that ran a job used, by pool",
      ["pool"],
      [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14_400],
    ),
  };
}

/** The phases of a job's wait, one histogram each. */
function phaseMetrics(registry: Registry) {
  return {
    webhookDelaySeconds: phase(registry, "webhookDelay"),
    queueWaitSeconds: phase(registry, "queueWait"),
    capacityWaitSeconds: phase(registry, "capacityWait"),
    jitConfigSeconds: phase(registry, "jitConfig"),
    containerStartSeconds: phase(registry, "containerStart"),
    runnerOnlineSeconds: phase(registry, "runnerOnline"),
    jobStartSeconds: phase(registry, "jobStart"),
  };
}

/** runnerhub itself and what it depends on: its own errors and passes, GitHub and Docker. */
function dependencyMetrics(registry: Registry) {
  return {
    internalErrors: counter(
      registry,
      "runnerhub_internal_errors_total",
      "Errors runnerhub caught and went on without (logged with the same where), by place",
      ["where"],
    ),
    reconcileActions: counter(
      registry,
      "runnerhub_reconcile_actions_total",
      "Actions the reconciler carried out, by kind and outcome (ok, failed)",
      ["kind", "outcome"],
    ),
    githubRequests: counter(
      registry,
      "runnerhub_github_requests_total",
      "GitHub API requests (after Octokit's retries), by installation (app: the app's JWT), route and status",
      ["installation", "route", "status"],
    ),
    githubRateLimitRemaining: gauge(
      registry,
      "runnerhub_github_rate_limit_remaining",
      "Requests left in GitHub's rate-limit window, from the last response's x-ratelimit-remaining",
      ["installation", "resource"],
    ),
    githubBudgetWait: counter(
      registry,
      "runnerhub_github_budget_wait_seconds_total",
      "Time this process's GitHub calls waited on their installation's budget (app: the app's JWT), pauses included",
      ["installation"],
    ),
    githubPauses: counter(
      registry,
      "runnerhub_github_pauses_total",
      "Rate-limit answers from GitHub that paused an installation's calls in every process",
      ["installation"],
    ),
    dockerErrors: counter(
      registry,
      "runnerhub_docker_errors_total",
      "Docker engine calls that failed, by engine and operation",
      ["engine", "operation"],
    ),
  };
}

/** Runner images: pulls and clean-up. */
function imageMetrics(registry: Registry) {
  return {
    imagePullSeconds: histogram(
      registry,
      "runnerhub_image_pull_seconds",
      "Image pulls by runnerhub, by pool and result (success or failure)",
      ["pool", "result"],
      [0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800],
    ),
    imagePullFailures: counter(
      registry,
      "runnerhub_image_pull_failures_total",
      "Failed image pulls, by pool and reason (not-found, unauthorized, unreachable, timeout, not-on-engine, error)",
      ["pool", "reason"],
    ),
    imagesRemoved: counter(
      registry,
      "runnerhub_images_removed_total",
      "Runner images removed by the image clean-up, by kind (unused reference, superseded id)",
      ["kind"],
    ),
  };
}

/** One registry per process, passed down; nothing registers on prom-client's global. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "runnerhub_process_" });
  return {
    registry,
    ...jobMetrics(registry),
    ...runnerMetrics(registry),
    ...phaseMetrics(registry),
    ...dependencyMetrics(registry),
    ...imageMetrics(registry),
  };
}

/** Milliseconds between two clock readings as seconds, never negative (clocks of two hosts differ). */
export function secondsBetween(from: number, to: number): number {
  return Math.max(0, to - from) / 1000;
}

/** Live runners per pool and state, read from Redis when Prometheus scrapes. */
export function registerRunnerGauge(
  registry: Registry,
  listRunners: () => Promise<readonly { pool: string; state: string }[]>,
): void {
  new Gauge({
    name: "runnerhub_runners",
    help: "Live runners, by pool and state",
    labelNames: ["pool", "state"] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const runner of await listRunners()) this.inc({ pool: runner.pool, state: runner.state });
    },
  });
}

/** Each pool's effective limits (the pools file with run-time overrides), read at scrape. */
export function registerPoolLimitGauges(
  registry: Registry,
  effectivePools: () => Promise<readonly { name: string; maxRunners: number; minIdle: number }[]>,
): void {
  const limit = (name: string, help: string, field: "maxRunners" | "minIdle") =>
    new Gauge({
      name,
      help,
      labelNames: ["pool"] as const,
      registers: [registry],
      async collect() {
        this.reset();
        for (const pool of await effectivePools()) this.set({ pool: pool.name }, pool[field]);
      },
    });
  limit("runnerhub_pool_max_runners", "Effective maxRunners of each pool", "maxRunners");
  limit("runnerhub_pool_min_idle", "Effective minIdle of each pool", "minIdle");
}

/** Each pool's warm target (src/pools/warm-target.ts: floor, schedule or forecast), read at scrape. */
export function registerWarmTargetGauge(
  registry: Registry,
  warmTargets: () => Promise<readonly { pool: string; target: number }[]>,
): void {
  new Gauge({
    name: "runnerhub_pool_warm_target",
    help: "Idle runners each pool keeps now beyond its waiting jobs: minIdle, a matching schedule entry, or the adaptive forecast",
    labelNames: ["pool"] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const { pool, target } of await warmTargets()) this.set({ pool }, target);
    },
  });
}

/** 1 for each pool that is crash-looping (src/pools/crash-loop.ts), 0 for the others, read at scrape. */
export function registerCrashLoopGauge(
  registry: Registry,
  crashLooping: () => Promise<readonly { pool: string; looping: boolean }[]>,
): void {
  new Gauge({
    name: "runnerhub_pool_crash_looping",
    help: "1 while a pool's runners keep ending before taking a job and its provisioning backs off",
    labelNames: ["pool"] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const { pool, looping } of await crashLooping()) this.set({ pool }, looping ? 1 : 0);
    },
  });
}

/** Entries of the provision queue by BullMQ state, read at scrape. */
export function registerQueueGauge(registry: Registry, counts: () => Promise<Record<string, number>>): void {
  new Gauge({
    name: "runnerhub_queue_jobs",
    help: "Provision queue entries, by state (waiting, delayed: parked on a full pool or engine, active, failed, ...)",
    labelNames: ["queue", "state"] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const [state, count] of Object.entries(await counts())) this.set({ queue: "provision", state }, count);
    },
  });
}
