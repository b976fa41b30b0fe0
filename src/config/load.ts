import { readFileSync } from "node:fs";
import path from "node:path";
import { parseEnv } from "node:util";
import { getPrivateKey } from "@probot/get-private-key";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ENV_DEFAULTS as D } from "./defaults.js";
import { parseDockerHost, type DockerConnection } from "./docker-host.js";
import { poolsFileSchema, type Pool } from "./pools.js";
import { parseRedisTarget, type RedisTarget } from "../state/redis-target.js";
import { WRITE_POINTS, type GitHubBudgetSettings } from "../github/budget.js";
import { normalizeAuthKey } from "./image-reference.js";
import type { LogFormat } from "../observability/logger.js";
import { parseRegistryAuths, type RegistryAuths, type RegistryCredential } from "./registry-auth.js";
import { parseTestFault, type ProvisionStep } from "./test-fault.js";
import { parseDuration, parseSize } from "./units.js";

export type Role = "webhook" | "worker";
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";

export interface DockerTarget {
  /**
   * How the engine is named in logs, metrics, capacity accounting and runner records; undefined:
   * the Docker host's own name (`docker info`), which outlives the app's container and restarts.
   */
  name: string | undefined;
  /** Most runner containers this engine may hold at once; undefined for no limit. */
  capacity?: number;
  /** Labels pools may require of the engine (`engines.labels`). */
  labels: string[];
  /** Memory (bytes) and CPUs runners may reserve here; undefined: what `docker info` reports. */
  memoryBytes?: number;
  cpus?: number;
  connection: DockerConnection;
  /** Longest wait for one request/response Docker call before it fails (streams are exempt). */
  callTimeoutMs: number;
}

export interface Config {
  mode: "run";
  github: { appId: number; privateKey: string; webhookSecret: string; baseUrl: string; webUrl: string };
  http: { host: string; port: number };
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** One Redis by URL, or a Sentinel-monitored primary; undefined: start an embedded redis-server under dataDir. */
  redis: RedisTarget | undefined;
  docker: DockerTarget;
  poolsFile: string;
  pools: Pool[];
  adminToken: string | undefined;
  /** Bearer token /metrics asks for; undefined: /metrics is open (a scraper on a private network). */
  metricsToken: string | undefined;
  /** Webhook bodies larger than this are refused (413) before they are read. */
  webhookMaxBytes: number;
  roles: ReadonlySet<Role>;
  /** How long a runner container may keep running after GitHub reported its job completed. */
  stopGraceMs: number;
  reconcileIntervalMs: number;
  /** How long a new runner may take to register and come online before it counts as broken. */
  bootstrapTimeoutMs: number;
  /** Longest a graceful stop may take before the process exits anyway (a hung engine or Redis). */
  shutdownTimeoutMs: number;
  /**
   * Longest time between two looks at GitHub's failed deliveries when nothing here suggests a
   * miss; a start, an errored webhook or a pending redelivery makes the next pass (within a
   * minute) look at once.
   */
  recoveryIntervalMs: number;
  /** A provision entry whose worker died is run again within about twice this (BullMQ's lock and stall check). */
  provisionLockMs: number;
  /** Demand older than this is checked with GitHub before a runner is made for it. */
  recheckAfterMs: number;
  /** Test-only: the provisioning step after which a worker kills itself (see test-fault.ts). */
  testFault: ProvisionStep | undefined;
  /** How often a worker writes its engine's heartbeat in Redis. */
  heartbeatIntervalMs: number;
  /** An engine whose heartbeat is silent this long is given up: its runners' records, slots and registrations go. */
  heartbeatTimeoutMs: number;
  /** How often `pull: always` images are re-pulled and unused runner images looked for. */
  imageRefreshIntervalMs: number;
  /** Runner images no pool has named for this long are removed; undefined: never. */
  imageGcAgeMs: number | undefined;
  /** Registry credentials (never logged); empty without RUNNERHUB_REGISTRY_AUTH_FILE / _AUTH. */
  registryAuths: RegistryAuths;
  dataDir: string;
  /** Namespace of every Redis key, so several runnerhub installations can share one Redis. */
  redisPrefix: string;
  /** The one GitHub request budget every process shares (see src/github/budget.ts). */
  githubBudget: GitHubBudgetSettings;
  /**
   * GitHub's hourly rate limit per installation (x-ratelimit-remaining): below this many requests
   * left, only runner registrations and deletions are made; other calls wait for the reset.
   */
  githubRateLimitFloor: number;
  /** Longest wait for one GitHub request's answer before it is aborted and the work behind it retried. */
  githubTimeoutMs: number;
}

/** Not yet registered as a GitHub App: serve the manifest setup page (src/config/setup-mode.ts). */
export interface SetupConfig {
  mode: "setup";
  http: { host: string; port: number };
  /** Where the setup flow keeps the App's settings (RUNNERHUB_ENV_FILE), read again at every start. */
  settingsFile: string;
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** RUNNERHUB_SETUP_TOKEN; undefined: a random one is made at start and printed with the page's URL. */
  setupToken: string | undefined;
  /** Where the App is created (web) and its manifest code converted (API). */
  github: { baseUrl: string; webUrl: string };
  /** GH_ORG: create the App for this organization instead of the user who opens the page. */
  org: string | undefined;
  /** WEBHOOK_PROXY_URL: the webhook URL the App is created with (a smee.io channel), instead of the page's own address. */
  webhookProxyUrl: string | undefined;
}

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`Invalid configuration in ${source}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

const blankToUndefined = (value: unknown) => (value === "" ? undefined : value);
const optionalString = z.preprocess(blankToUndefined, z.string().optional());

function envDuration(fallback: string) {
  return z.preprocess(
    blankToUndefined,
    z
      .string()
      .default(fallback)
      .transform((text, ctx) => {
        const ms = parseDuration(text);
        if (ms === undefined || ms <= 0) {
          ctx.addIssue({ code: "custom", message: `"${text}" is not a duration; use e.g. ${fallback}` });
          return z.NEVER;
        }
        return ms;
      }),
  );
}

const envSchema = z.object({
  APP_ID: z.preprocess(blankToUndefined, z.coerce.number().int().positive().optional()),
  WEBHOOK_SECRET: optionalString,
  GHE_HOST: z.preprocess(
    blankToUndefined,
    z
      .string()
      .regex(/^[A-Za-z0-9.-]+(:\d+)?$/, "a host name with an optional port, without protocol or path")
      .optional(),
  ),
  GHE_PROTOCOL: z.preprocess(blankToUndefined, z.enum(["http", "https"]).default(D.GHE_PROTOCOL)),
  PORT: z.preprocess(blankToUndefined, z.coerce.number().int().min(0).max(65535).default(D.PORT)),
  HOST: z.preprocess(blankToUndefined, z.string().default(D.HOST)),
  LOG_LEVEL: z.preprocess(
    blankToUndefined,
    z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default(D.LOG_LEVEL),
  ),
  LOG_FORMAT: z.preprocess(blankToUndefined, z.enum(["json", "pretty"]).default(D.LOG_FORMAT)),
  REDIS_URL: z.preprocess(
    blankToUndefined,
    z
      .string()
      .regex(/^(rediss?|redis\+sentinel):\/\//, "must start with redis://, rediss:// or redis+sentinel://")
      .optional(),
  ),
  REDIS_SENTINELS: optionalString,
  REDIS_SENTINEL_NAME: optionalString,
  REDIS_PASSWORD: optionalString,
  REDIS_SENTINEL_PASSWORD: optionalString,
  RUNNERHUB_DOCKER_TIMEOUT: envDuration(D.RUNNERHUB_DOCKER_TIMEOUT),
  RUNNERHUB_SHUTDOWN_TIMEOUT: envDuration(D.RUNNERHUB_SHUTDOWN_TIMEOUT),
  RUNNERHUB_ENGINE_NAME: optionalString,
  RUNNERHUB_ENGINE_CAPACITY: z.preprocess(blankToUndefined, z.coerce.number().int().min(0).optional()),
  RUNNERHUB_ENGINE_LABELS: z.preprocess(
    blankToUndefined,
    z
      .string()
      .regex(/^[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*$/, "a comma-separated list of labels (letters, digits, . _ -)")
      .default(D.RUNNERHUB_ENGINE_LABELS)
      .transform((text) => (text === "" ? [] : text.split(","))),
  ),
  RUNNERHUB_ENGINE_MEMORY: z.preprocess(
    blankToUndefined,
    z
      .string()
      .optional()
      .transform((text, ctx) => {
        if (text === undefined) return undefined;
        const bytes = parseSize(text);
        if (bytes === undefined || bytes < 1024 ** 2) {
          ctx.addIssue({ code: "custom", message: `"${text}" is not a size of at least 1m; use e.g. 16g` });
          return z.NEVER;
        }
        return bytes;
      }),
  ),
  RUNNERHUB_ENGINE_CPUS: z.preprocess(blankToUndefined, z.coerce.number().positive().max(4096).optional()),
  RUNNERHUB_CONFIG: z.preprocess(blankToUndefined, z.string().default(D.RUNNERHUB_CONFIG)),
  ADMIN_TOKEN: z.preprocess(blankToUndefined, z.string().min(16, "use at least 16 characters").optional()),
  RUNNERHUB_SETUP_TOKEN: z.preprocess(blankToUndefined, z.string().min(16, "use at least 16 characters").optional()),
  GH_ORG: z.preprocess(
    blankToUndefined,
    z
      .string()
      .regex(/^[A-Za-z0-9-]+$/, "an organization login (letters, digits and dashes)")
      .optional(),
  ),
  WEBHOOK_PROXY_URL: z.preprocess(blankToUndefined, z.string().url().optional()),
  RUNNERHUB_ROLES: z.preprocess(
    blankToUndefined,
    z
      .string()
      .default(D.RUNNERHUB_ROLES)
      .transform((text, ctx): Role[] => {
        const parts = text.split(",").map((part) => part.trim());
        if (parts.length === 1 && parts[0] === "all") return ["webhook", "worker"];
        const roles = parts.filter((part): part is Role => part === "webhook" || part === "worker");
        if (roles.length !== parts.length || roles.length === 0) {
          ctx.addIssue({
            code: "custom",
            message: `"${text}" is not a role list; use all, webhook, worker or webhook,worker`,
          });
          return z.NEVER;
        }
        return roles;
      }),
  ),
  RUNNERHUB_STOP_GRACE: envDuration(D.RUNNERHUB_STOP_GRACE),
  RUNNERHUB_RECONCILE_INTERVAL: envDuration(D.RUNNERHUB_RECONCILE_INTERVAL),
  RUNNERHUB_BOOTSTRAP_TIMEOUT: envDuration(D.RUNNERHUB_BOOTSTRAP_TIMEOUT),
  RUNNERHUB_PROVISION_LOCK: envDuration(D.RUNNERHUB_PROVISION_LOCK),
  RUNNERHUB_RECHECK_AFTER: envDuration(D.RUNNERHUB_RECHECK_AFTER),
  RUNNERHUB_HEARTBEAT_INTERVAL: envDuration(D.RUNNERHUB_HEARTBEAT_INTERVAL),
  RUNNERHUB_HEARTBEAT_TIMEOUT: envDuration(D.RUNNERHUB_HEARTBEAT_TIMEOUT),
  RUNNERHUB_RECOVERY_INTERVAL: envDuration(D.RUNNERHUB_RECOVERY_INTERVAL),
  RUNNERHUB_GITHUB_BURST: z.preprocess(
    blankToUndefined,
    z.coerce.number().int().min(5).default(D.RUNNERHUB_GITHUB_BURST),
  ),
  RUNNERHUB_GITHUB_POINTS_PER_MINUTE: z.preprocess(
    blankToUndefined,
    z.coerce.number().positive().default(D.RUNNERHUB_GITHUB_POINTS_PER_MINUTE),
  ),
  RUNNERHUB_GITHUB_RESERVE: z.preprocess(
    blankToUndefined,
    z.coerce.number().int().min(0).default(D.RUNNERHUB_GITHUB_RESERVE),
  ),
  RUNNERHUB_ENV_FILE: z.preprocess(blankToUndefined, z.string().default(D.RUNNERHUB_ENV_FILE)),
  RUNNERHUB_IMAGE_REFRESH_INTERVAL: envDuration(D.RUNNERHUB_IMAGE_REFRESH_INTERVAL),
  RUNNERHUB_IMAGE_GC_AGE: z.preprocess(
    blankToUndefined,
    z
      .string()
      .default(D.RUNNERHUB_IMAGE_GC_AGE)
      .transform((text, ctx) => {
        if (text === "off") return undefined;
        const ms = parseDuration(text);
        if (ms === undefined || ms <= 0) {
          ctx.addIssue({ code: "custom", message: `"${text}" is not a duration; use e.g. 24h, or off` });
          return z.NEVER;
        }
        return ms;
      }),
  ),
  RUNNERHUB_REGISTRY_AUTH_FILE: optionalString,
  RUNNERHUB_REGISTRY_AUTH: optionalString,
  RUNNERHUB_GITHUB_RATE_FLOOR: z.preprocess(
    blankToUndefined,
    z.coerce.number().int().min(0).default(D.RUNNERHUB_GITHUB_RATE_FLOOR),
  ),
  RUNNERHUB_GITHUB_TIMEOUT: envDuration(D.RUNNERHUB_GITHUB_TIMEOUT),
  RUNNERHUB_WEBHOOK_MAX_BYTES: z.preprocess(
    blankToUndefined,
    z
      .string()
      .default(D.RUNNERHUB_WEBHOOK_MAX_BYTES)
      .transform((text, ctx) => {
        const bytes = parseSize(text);
        if (bytes === undefined || bytes < 1024) {
          ctx.addIssue({ code: "custom", message: `"${text}" is not a size of at least 1k; use e.g. 1m` });
          return z.NEVER;
        }
        return bytes;
      }),
  ),
  METRICS_TOKEN: z.preprocess(blankToUndefined, z.string().min(16, "use at least 16 characters").optional()),
  RUNNERHUB_DATA_DIR: z.preprocess(blankToUndefined, z.string().default(D.RUNNERHUB_DATA_DIR)),
  RUNNERHUB_REDIS_PREFIX: z.preprocess(
    blankToUndefined,
    z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,40}$/, "use 1-40 letters, digits, dashes or underscores")
      .default(D.RUNNERHUB_REDIS_PREFIX),
  ),
});

function formatPath(segments: readonly PropertyKey[]): string {
  return segments.reduce<string>(
    (out, segment) =>
      typeof segment === "number" ? `${out}[${segment}]` : out ? `${out}.${String(segment)}` : String(segment),
    "",
  );
}

function problemsOf(error: z.ZodError, prefix = ""): string[] {
  return error.issues.map((issue) => `${prefix}${formatPath(issue.path) || "(top level)"}: ${issue.message}`);
}

/** Reads and validates the pools file; every problem names the file and the field. */
export function loadPools(file: string): Pool[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : String(error);
    throw new ConfigError(file, [
      `RUNNERHUB_CONFIG: ${reason}; create the pools file (see runnerhub.example.yml) or point RUNNERHUB_CONFIG at it`,
    ]);
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new ConfigError(file, [`not valid YAML: ${(error as Error).message}`]);
  }
  const parsed = poolsFileSchema.safeParse(document);
  if (!parsed.success) throw new ConfigError(file, problemsOf(parsed.error, "pools"));
  return parsed.data;
}

/**
 * Registry credentials in Docker's `{"auths": {...}}` shape, from a file (a Docker config.json
 * works) and from RUNNERHUB_REGISTRY_AUTH (the same JSON, for secret stores that fill the
 * environment); entries of the variable win. Problems name the source and field, never a secret.
 */
export function loadRegistryAuths(file: string | undefined, inline: string | undefined): RegistryAuths {
  const sources: { name: string; text: () => string }[] = [];
  if (file !== undefined) {
    sources.push({
      name: file,
      text: () => {
        try {
          return readFileSync(file, "utf8");
        } catch (error) {
          const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : String(error);
          throw new ConfigError(file, [`RUNNERHUB_REGISTRY_AUTH_FILE: ${reason}`]);
        }
      },
    });
  }
  if (inline !== undefined) sources.push({ name: "RUNNERHUB_REGISTRY_AUTH", text: () => inline });
  const auths = new Map<string, RegistryCredential>();
  for (const source of sources) {
    let document: unknown;
    try {
      document = JSON.parse(source.text());
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      // JSON.parse quotes the text it failed on, which may hold a password: name the position only.
      const position = /position \d+/.exec((error as Error).message)?.[0] ?? "somewhere";
      throw new ConfigError(source.name, [`not valid JSON (at ${position}); expected {"auths": {...}}`]);
    }
    const parsed = parseRegistryAuths(document);
    if (!parsed.ok) throw new ConfigError(source.name, parsed.problems);
    for (const [key, credential] of parsed.auths) auths.set(key, credential);
  }
  return auths;
}

/** A pool that names registry credentials must name ones that exist. */
function checkPoolAuths(file: string, pools: readonly Pool[], auths: RegistryAuths): void {
  const problems = pools.flatMap((pool, index) =>
    pool.registryAuth === undefined || auths.has(normalizeAuthKey(pool.registryAuth))
      ? []
      : [
          `pools[${index}].registryAuth: no entry "${pool.registryAuth}" in the registry credentials; ` +
            `add it to RUNNERHUB_REGISTRY_AUTH_FILE or RUNNERHUB_REGISTRY_AUTH (known: ${[...auths.keys()].join(", ") || "none"})`,
        ],
  );
  if (problems.length > 0) throw new ConfigError(file, problems);
}

/** The settings file's path, as loadDotEnv and loadConfig both see it. */
function settingsFileOf(env: Env, cwd: string): string {
  return path.resolve(cwd, env.RUNNERHUB_ENV_FILE || D.RUNNERHUB_ENV_FILE);
}

/**
 * The variables of the settings file; undefined when there is none. A file that is there but
 * cannot be read is an error naming it: falling back to the setup page would hand the App to
 * whoever opens it first.
 */
function readSettingsFile(file: string): Record<string, string | undefined> | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    throw new ConfigError(file, [
      `RUNNERHUB_ENV_FILE: cannot read the settings file (${code ?? (error as Error).message}); ` +
        "give the user runnerhub runs as read access to it, or point RUNNERHUB_ENV_FILE at the right file",
    ]);
  }
  return parseEnv(text);
}

/** The GitHub App's own settings: once any is in the settings file, the App was set up. */
const APP_SETTINGS = ["APP_ID", "PRIVATE_KEY", "PRIVATE_KEY_PATH", "WEBHOOK_SECRET"] as const;

/**
 * Adds the variables of the settings file (`.env`, or RUNNERHUB_ENV_FILE: where the setup page
 * writes APP_ID, PRIVATE_KEY and WEBHOOK_SECRET) to the environment; variables already set win.
 */
export function loadDotEnv(cwd = process.cwd(), env: Env = process.env): void {
  const values = readSettingsFile(settingsFileOf(env, cwd)) ?? {};
  for (const [key, value] of Object.entries(values)) if (env[key] === undefined) env[key] = value;
}

/** The one place that reads the environment. */
export function loadConfig(env: Env, cwd = process.cwd()): Config | SetupConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError("the environment", problemsOf(parsed.error));
  const vars = parsed.data;
  const http = { host: vars.HOST, port: vars.PORT };

  let privateKey: string | null;
  try {
    privateKey = getPrivateKey({ env: { PRIVATE_KEY: env.PRIVATE_KEY, PRIVATE_KEY_PATH: env.PRIVATE_KEY_PATH }, cwd });
  } catch (error) {
    throw new ConfigError("the environment", [
      `PRIVATE_KEY / PRIVATE_KEY_PATH: ${(error as Error).message.replace(/^\[[^\]]+\] /, "")}`,
    ]);
  }
  const github = {
    baseUrl: vars.GHE_HOST ? `${vars.GHE_PROTOCOL}://${vars.GHE_HOST}/api/v3` : "https://api.github.com",
    webUrl: vars.GHE_HOST ? `${vars.GHE_PROTOCOL}://${vars.GHE_HOST}` : "https://github.com",
  };
  if (vars.APP_ID === undefined || !privateKey) {
    const settingsFile = settingsFileOf(env, cwd);
    const settings = readSettingsFile(settingsFile);
    const present = APP_SETTINGS.filter((key) => settings?.[key]);
    // A process set up once never silently offers its App to whoever opens the setup page again.
    if (present.length > 0) {
      throw new ConfigError(settingsFile, [
        `the settings file holds ${present.join(", ")}, yet ${vars.APP_ID === undefined ? "APP_ID" : "the private key (PRIVATE_KEY or PRIVATE_KEY_PATH)"} is missing or empty; ` +
          "restore it from the GitHub App's settings page, or delete the file to register a new App with the setup page",
      ]);
    }
    return {
      mode: "setup",
      http,
      settingsFile,
      logLevel: vars.LOG_LEVEL,
      logFormat: vars.LOG_FORMAT,
      setupToken: vars.RUNNERHUB_SETUP_TOKEN,
      github,
      org: vars.GH_ORG,
      webhookProxyUrl: vars.WEBHOOK_PROXY_URL,
    };
  }
  if (!vars.WEBHOOK_SECRET) {
    throw new ConfigError("the environment", [
      "WEBHOOK_SECRET: required once APP_ID is set; copy it from the GitHub App's settings",
    ]);
  }

  if (vars.RUNNERHUB_GITHUB_RESERVE > vars.RUNNERHUB_GITHUB_BURST - WRITE_POINTS) {
    throw new ConfigError("the environment", [
      `RUNNERHUB_GITHUB_RESERVE: ${vars.RUNNERHUB_GITHUB_RESERVE} leaves no room for one write (${WRITE_POINTS} points) ` +
        `in RUNNERHUB_GITHUB_BURST=${vars.RUNNERHUB_GITHUB_BURST}; lower the reserve or raise the burst`,
    ]);
  }
  const docker = parseDockerHost(env);
  if (!docker.ok) throw new ConfigError("the environment", docker.problems);
  const redis = parseRedisTarget(vars);
  if (!redis.ok) throw new ConfigError("the environment", redis.problems);
  const testFault = parseTestFault(env.RUNNERHUB_TEST_FAULT, env.NODE_ENV);
  if ("problem" in testFault) throw new ConfigError("the environment", [testFault.problem]);
  // Three beats may be late (a busy Redis, a GC pause) before a live engine is given up for lost.
  if (vars.RUNNERHUB_HEARTBEAT_TIMEOUT < 3 * vars.RUNNERHUB_HEARTBEAT_INTERVAL) {
    throw new ConfigError("the environment", [
      `RUNNERHUB_HEARTBEAT_TIMEOUT: must be at least three RUNNERHUB_HEARTBEAT_INTERVALs ` +
        `(${vars.RUNNERHUB_HEARTBEAT_INTERVAL} ms); raise the timeout or shorten the interval`,
    ]);
  }
  const poolsFile = path.resolve(cwd, vars.RUNNERHUB_CONFIG);
  const pools = loadPools(poolsFile);
  const registryAuths = loadRegistryAuths(
    vars.RUNNERHUB_REGISTRY_AUTH_FILE === undefined ? undefined : path.resolve(cwd, vars.RUNNERHUB_REGISTRY_AUTH_FILE),
    vars.RUNNERHUB_REGISTRY_AUTH,
  );
  checkPoolAuths(poolsFile, pools, registryAuths);
  return {
    mode: "run",
    github: { appId: vars.APP_ID, privateKey, webhookSecret: vars.WEBHOOK_SECRET, ...github },
    http,
    logLevel: vars.LOG_LEVEL,
    logFormat: vars.LOG_FORMAT,
    redis: redis.target,
    docker: {
      name: vars.RUNNERHUB_ENGINE_NAME,
      capacity: vars.RUNNERHUB_ENGINE_CAPACITY,
      labels: vars.RUNNERHUB_ENGINE_LABELS,
      memoryBytes: vars.RUNNERHUB_ENGINE_MEMORY,
      cpus: vars.RUNNERHUB_ENGINE_CPUS,
      connection: docker.connection,
      callTimeoutMs: vars.RUNNERHUB_DOCKER_TIMEOUT,
    },
    poolsFile,
    pools,
    adminToken: vars.ADMIN_TOKEN,
    metricsToken: vars.METRICS_TOKEN,
    webhookMaxBytes: vars.RUNNERHUB_WEBHOOK_MAX_BYTES,
    roles: new Set(vars.RUNNERHUB_ROLES),
    stopGraceMs: vars.RUNNERHUB_STOP_GRACE,
    reconcileIntervalMs: vars.RUNNERHUB_RECONCILE_INTERVAL,
    bootstrapTimeoutMs: vars.RUNNERHUB_BOOTSTRAP_TIMEOUT,
    recoveryIntervalMs: vars.RUNNERHUB_RECOVERY_INTERVAL,
    shutdownTimeoutMs: vars.RUNNERHUB_SHUTDOWN_TIMEOUT,
    testFault: testFault.step,
    provisionLockMs: vars.RUNNERHUB_PROVISION_LOCK,
    recheckAfterMs: vars.RUNNERHUB_RECHECK_AFTER,
    heartbeatIntervalMs: vars.RUNNERHUB_HEARTBEAT_INTERVAL,
    heartbeatTimeoutMs: vars.RUNNERHUB_HEARTBEAT_TIMEOUT,
    imageRefreshIntervalMs: vars.RUNNERHUB_IMAGE_REFRESH_INTERVAL,
    imageGcAgeMs: vars.RUNNERHUB_IMAGE_GC_AGE,
    registryAuths,
    dataDir: path.resolve(cwd, vars.RUNNERHUB_DATA_DIR),
    redisPrefix: vars.RUNNERHUB_REDIS_PREFIX,
    githubBudget: {
      burstPoints: vars.RUNNERHUB_GITHUB_BURST,
      pointsPerMinute: vars.RUNNERHUB_GITHUB_POINTS_PER_MINUTE,
      reservePoints: vars.RUNNERHUB_GITHUB_RESERVE,
    },
    githubRateLimitFloor: vars.RUNNERHUB_GITHUB_RATE_FLOOR,
    githubTimeoutMs: vars.RUNNERHUB_GITHUB_TIMEOUT,
  };
}
