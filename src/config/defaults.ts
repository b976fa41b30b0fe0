/**
 * The default of every environment variable that has one, in one place (docs/configuration.md
 * lists them for users); `loadConfig` applies them. Durations and sizes are written as a user
 * would write them.
 */
export const ENV_DEFAULTS = {
  GHE_PROTOCOL: "https",
  PORT: 3000,
  HOST: "0.0.0.0",
  LOG_LEVEL: "info",
  LOG_FORMAT: "json",
  RUNNERHUB_CONFIG: "runnerhub.yml",
  RUNNERHUB_ENV_FILE: ".env",
  RUNNERHUB_DATA_DIR: ".data",
  RUNNERHUB_REDIS_PREFIX: "runnerhub",
  /** Every role in one process: the simplest deployment. */
  RUNNERHUB_ROLES: "all",
  /** No labels: the engine takes only pools that require none. */
  RUNNERHUB_ENGINE_LABELS: "",
  RUNNERHUB_DOCKER_TIMEOUT: "30s",
  RUNNERHUB_SHUTDOWN_TIMEOUT: "25s",
  RUNNERHUB_STOP_GRACE: "30s",
  RUNNERHUB_RECONCILE_INTERVAL: "30s",
  RUNNERHUB_BOOTSTRAP_TIMEOUT: "5m",
  /**
   * BullMQ's own lock: a worker renews its hold on a provision
   * entry every half of it, and an entry whose worker died is run again within about two of it.
   */
  RUNNERHUB_PROVISION_LOCK: "30s",
  /**
   * Demand younger than this is trusted to be still queued (saves a GitHub call per runner). Longer
   * than a big burst takes: past the GitHub budget's burst (60 JIT configs) runners come at 2 a
   * second, so a burst of 200 needs about 70 s, and a shorter window would make the later jobs of a
   * burst each cost a job-status GET as well (docs/benchmarks.md). A settling webhook that got lost
   * meanwhile costs one spare runner, which the reconciler retires.
   */
  RUNNERHUB_RECHECK_AFTER: "2m",
  /**
   * A worker writes its engine's heartbeat this often. One small Redis write per engine every 5 s
   * costs nothing, and twelve beats fit in the timeout.
   */
  RUNNERHUB_HEARTBEAT_INTERVAL: "5s",
  /**
   * An engine silent this long is given up for lost. A minute rides out a Redis failover, a long GC pause or a worker restart (its runners are then
   * found as they were), and is short next to GitHub's own patience with a vanished runner. The
   * config insists on at least three intervals.
   */
  RUNNERHUB_HEARTBEAT_TIMEOUT: "60s",
  RUNNERHUB_RECOVERY_INTERVAL: "15m",
  RUNNERHUB_GITHUB_BURST: 300,
  RUNNERHUB_GITHUB_POINTS_PER_MINUTE: 600,
  RUNNERHUB_GITHUB_RESERVE: 100,
  RUNNERHUB_GITHUB_RATE_FLOOR: 500,
  /**
   * A GitHub request without an answer this long is aborted (GitHub answers in well under a second; a half-dead connection never does, and undici alone
   * would wait 300 s for headers). Long enough for a slow GHES under load.
   */
  RUNNERHUB_GITHUB_TIMEOUT: "30s",
  RUNNERHUB_IMAGE_REFRESH_INTERVAL: "15m",
  RUNNERHUB_IMAGE_GC_AGE: "24h",
  RUNNERHUB_WEBHOOK_MAX_BYTES: "1m",
} as const;
