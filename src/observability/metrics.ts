import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export type Metrics = ReturnType<typeof createMetrics>;

/** One registry per process, passed down; nothing registers on prom-client's global. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "runnerhub_process_" });
  return {
    registry,
    webhooks: new Counter({
      name: "runnerhub_webhooks_total",
      help: "workflow_job webhooks received, by action and outcome",
      labelNames: ["action", "outcome"] as const,
      registers: [registry],
    }),
    jobsIgnored: new Counter({
      name: "runnerhub_jobs_ignored_total",
      help: "Queued jobs no pool serves, by reason",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    runnersCreated: new Counter({
      name: "runnerhub_runners_created_total",
      help: "Runner containers created, by pool",
      labelNames: ["pool"] as const,
      registers: [registry],
    }),
    provisionFailures: new Counter({
      name: "runnerhub_provision_failures_total",
      help: "Provisioning attempts that failed, by pool",
      labelNames: ["pool"] as const,
      registers: [registry],
    }),
    runnerExits: new Counter({
      name: "runnerhub_runner_exits_total",
      help: "Runner containers that exited, by pool and reason",
      labelNames: ["pool", "reason"] as const,
      registers: [registry],
    }),
    provisionSeconds: new Histogram({
      name: "runnerhub_provision_seconds",
      help: "From the queued webhook to a started runner container",
      labelNames: ["pool"] as const,
      buckets: [0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    runnerPeakMemory: new Histogram({
      name: "runnerhub_runner_peak_memory_bytes",
      help: "Peak memory of a runner container that ran a job, by pool (size pools' memory from it)",
      labelNames: ["pool"] as const,
      buckets: [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16_384, 32_768].map((mib) => mib * 1024 * 1024),
      registers: [registry],
    }),
    runnerCpuSeconds: new Histogram({
      name: "runnerhub_runner_cpu_seconds",
      help: "CPU time a runner container that ran a job used, by pool",
      labelNames: ["pool"] as const,
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14_400],
      registers: [registry],
    }),
  };
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
