import path from "node:path";
import { z } from "zod";
import { parseImageReference } from "./image-reference.js";
import { overflowProblems } from "./overflow.js";
import { perRepositoryProblems, perRepositorySchema } from "./per-repository.js";
import { cronProblem, timeZoneProblem } from "./schedule.js";
import { DEFAULT_RUNNER_LIMITS } from "../tunables.js";
import { parseDuration, parseSize } from "./units.js";
import { fileSizeProblems, sizeProblems } from "./pool-sizes.js";

/** Network modes that share a namespace the job should not see: the host's, or another container's. */
export function sharesNetwork(network: string): boolean {
  return network === "host" || network.startsWith("container:");
}

/** Host paths that are, or contain, the Docker socket: mounting them hands a job the engine. */
const SOCKET_DIRS = ["/", "/var", "/var/run", "/run"];

export function exposesDockerSocket(source: string): boolean {
  const normal = path.posix.normalize(source).replace(/\/+$/, "") || "/";
  return normal.endsWith("docker.sock") || SOCKET_DIRS.includes(normal);
}

const size = z.string().transform((text, ctx) => {
  const bytes = parseSize(text);
  if (bytes === undefined || bytes <= 0) {
    ctx.addIssue({ code: "custom", message: `"${text}" is not a size; use Docker-style sizes such as 512m or 4g` });
    return z.NEVER;
  }
  return bytes;
});

const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({ code: "custom", message: `"${text}" is not a duration; use e.g. 90s, 10m or 6h` });
    return z.NEVER;
  }
  return ms;
});

/** A floor that holds while the current minute matches `cron` in `timezone` (terraform-aws-github-runner's idle_config). */
const scheduleEntry = z.strictObject({
  /** Five fields (minute hour day-of-month month day-of-week), checked with the pool (warmProblems). */
  cron: z.string().min(1),
  /** An IANA time zone, checked with the pool (warmProblems). */
  timezone: z.string().min(1).default("UTC"),
  minIdle: z.int().min(0),
});

export type ScheduleEntry = z.output<typeof scheduleEntry>;

const mount = z.strictObject({
  /** A named volume (created by Docker on first use) or, with allowHostPaths, an absolute host path. */
  source: z
    .string()
    .min(1)
    .regex(
      /^(\/.*|[A-Za-z0-9][A-Za-z0-9_.-]*)$/,
      "use a volume name (letters, digits, _ . -) or an absolute host path",
    ),
  target: z
    .string()
    .regex(/^\/./, "use an absolute path inside the container, e.g. /opt/hostedtoolcache")
    .transform((target) => path.posix.normalize(target).replace(/(.)\/+$/, "$1")),
  readOnly: z.boolean().default(false),
});

export type Mount = z.output<typeof mount>;

export function isHostPath(source: string): boolean {
  return source.startsWith("/");
}

const label = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[^,\s]+$/, "labels cannot contain commas or spaces");

const resources = z.strictObject({
  memory: size.optional(),
  cpus: z.number().positive().max(1024).optional(),
  pids: z.int().min(16).optional(),
});

/** A job size: a job whose runs-on carries `label` gets a runner with these resources (the rest: the pool's). */
const jobSize = z.strictObject({ label, resources });

export const poolSchema = z
  .strictObject({
    name: z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9-]{0,39}$/,
        "use 1-40 lowercase letters, digits and dashes, starting with a letter or digit",
      ),
    labels: z.array(label).min(1).max(100),
    image: z
      .string()
      .min(1)
      .refine((image) => parseImageReference(image) !== undefined, {
        message: "not an image reference; use e.g. ghcr.io/actions/actions-runner:latest",
      }),
    /** missing: pull when the engine lacks the image; always: also re-pull on a schedule (moving tags); never: only use what is on the engine. */
    pull: z.enum(["missing", "always", "never"]).default("missing"),
    /** The entry of the registry credentials (RUNNERHUB_REGISTRY_AUTH_FILE / _AUTH) for this pool's image; default: matched by registry. */
    registryAuth: z.string().min(1).optional(),
    command: z.array(z.string()).min(1).default(["/home/runner/run.sh"]),
    maxRunners: z.int().min(0).max(10_000),
    /** Fair share: each runner registers at its job's repository, and no repository holds more than this many. */
    perRepository: perRepositorySchema.optional(),
    minIdle: z.int().min(0).default(0),
    /** Floors by time of day or week; the highest entry matching the current minute wins over minIdle. */
    schedule: z.array(scheduleEntry).max(100).default([]),
    /** static: keep the floor (minIdle or schedule); adaptive: also as many as the recent demand needs over one runner boot. */
    warm: z.enum(["static", "adaptive"]).default("static"),
    /** The most idle runners an adaptive pool keeps; default: the floor (minIdle). */
    maxIdle: z.int().min(0).optional(),
    /** How far back an adaptive pool looks at arrivals for its recent rate. */
    forecastWindow: duration.prefault("5m"),
    /** Where warm (minIdle, schedule, adaptive) runners register: an organization, or owner/repo for repo runners. */
    warmScope: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9-]*(\/[A-Za-z0-9._-]+)?$/, "use an organization login or owner/repo")
      .optional(),
    runnerGroup: z.string().min(1).default("Default"),
    registration: z.enum(["jit", "token"]).default("jit"),
    resources: resources.default({}),
    /** Job sizes offered by the pool; their labels count as the pool's labels when jobs are matched. */
    sizes: z.array(jobSize).max(20).default([]),
    /** Label-less jobs (runs-on: {group: …}) are served by this pool, in its runnerGroup. */
    groupDefault: z.boolean().default(false),
    network: z.string().min(1).default("bridge"),
    /** Opt-in for network host / container:…, which give jobs the host's or another container's ports. */
    allowHostNetwork: z.boolean().default(false),
    volumes: z.array(mount).max(64).default([]),
    /** Opt-in for volumes whose source is a host path rather than a named volume. */
    allowHostPaths: z.boolean().default(false),
    idleTimeout: duration.prefault("10m"),
    maxLifetime: duration.prefault("6h"),
    env: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "not an environment variable name"), z.string())
      .default({}),
    /**
     * A bigger pool that re-runs, once, a job whose runner this pool's memory limit OOM-killed. Its
     * labels must carry every label of the job (a runner takes only jobs whose labels it all has).
     */
    oomRetryPool: z.string().min(1).optional(),
    /** The size (of oomRetryPool, else of this pool) that re-runs, once, a job this pool's memory limit OOM-killed. */
    oomRetrySize: z.string().min(1).optional(),
    /**
     * Another pool that starts this pool's job when this pool cannot start it now (pool or engine
     * full) and carries every label of the job; a job overflows once at most (src/pools/overflow.ts).
     */
    overflow: z.string().min(1).optional(),
    dockerInDocker: z.boolean().default(false),
    gpus: z.boolean().default(false),
    /** Which engines may run this pool's runners: those whose RUNNERHUB_ENGINE_LABELS include every label here. */
    engines: z
      .strictObject({ labels: z.array(z.string().regex(/^[A-Za-z0-9._-]+$/, "letters, digits, . _ -")).max(32) })
      .default({ labels: [] }),
    /** spread: the engine with the most room for this pool's runner; pack: the one with the least that still fits. */
    placement: z.enum(["spread", "pack"]).default("spread"),
  })
  .superRefine((pool, ctx) => {
    if (!pool.labels.some((l) => l.toLowerCase() === "self-hosted")) {
      ctx.addIssue({ code: "custom", path: ["labels"], message: 'must include "self-hosted"' });
    }
    warmProblems(pool).forEach((problem) => ctx.addIssue({ code: "custom", ...problem }));
    perRepositoryProblems(pool).forEach((problem) => ctx.addIssue({ code: "custom", ...problem }));
    sizeProblems(pool).forEach((problem) => ctx.addIssue({ code: "custom", ...problem }));
    if (sharesNetwork(pool.network) && !pool.allowHostNetwork) {
      ctx.addIssue({
        code: "custom",
        path: ["network"],
        message:
          `"${pool.network}" gives pool "${pool.name}"'s jobs the network of the host or of another container, ` +
          "including runnerhub's own ports; set allowHostNetwork: true on the pool to allow it, or use bridge",
      });
    }
    const targets = new Set<string>();
    pool.volumes.forEach((volume, index) => {
      const at = ["volumes", index];
      if (targets.has(volume.target)) {
        ctx.addIssue({ code: "custom", path: [...at, "target"], message: `${volume.target} is mounted twice` });
      }
      targets.add(volume.target);
      if (!isHostPath(volume.source)) return;
      if (exposesDockerSocket(volume.source) && !pool.dockerInDocker) {
        ctx.addIssue({
          code: "custom",
          path: [...at, "source"],
          message:
            `${volume.source} exposes the Docker socket, which gives jobs control of the engine; ` +
            `only a pool with dockerInDocker: true may mount it`,
        });
      } else if (!pool.allowHostPaths) {
        ctx.addIssue({
          code: "custom",
          path: [...at, "source"],
          message:
            `${volume.source} is a host path; set allowHostPaths: true on pool "${pool.name}" to mount host ` +
            "folders, or use a named volume (a name without slashes)",
        });
      }
    });
  })
  .transform(({ resources, ...pool }) => ({
    ...pool,
    resources: {
      ...resources,
      memory: resources.memory ?? DEFAULT_RUNNER_LIMITS.memoryBytes,
      pids: resources.pids ?? DEFAULT_RUNNER_LIMITS.pids,
    },
    /** Limits the file left unset, filled from DEFAULT_RUNNER_LIMITS (warned about at start). */
    defaultedLimits: (["memory", "pids"] as const).filter((limit) => resources[limit] === undefined),
  }));

/** The file is a list of pools; a mapping with a `pools` list is accepted too. */
export const poolsFileSchema = z
  .preprocess(
    (file) =>
      file !== null && typeof file === "object" && !Array.isArray(file) && "pools" in file ? file.pools : file,
    z.array(poolSchema).min(1, "declare at least one pool"),
  )
  .superRefine((pools, ctx) => {
    const seen = new Set<string>();
    pools.forEach((pool, index) => {
      if (seen.has(pool.name)) {
        ctx.addIssue({ code: "custom", path: [index, "name"], message: `duplicate pool name "${pool.name}"` });
      }
      seen.add(pool.name);
    });
    fileSizeProblems(pools).forEach((problem) => ctx.addIssue({ code: "custom", ...problem }));
    pools.forEach((pool, index) => {
      if (pool.oomRetryPool === undefined) return;
      const path = [index, "oomRetryPool"];
      if (pool.oomRetryPool === pool.name) {
        ctx.addIssue({ code: "custom", path, message: "must name another pool, not the pool itself" });
      } else if (!seen.has(pool.oomRetryPool)) {
        ctx.addIssue({
          code: "custom",
          path,
          message: `no pool named "${pool.oomRetryPool}"; pools: ${[...seen].join(", ")}`,
        });
      }
    });
    overflowProblems(pools).forEach(({ index, message }) =>
      ctx.addIssue({ code: "custom", path: [index, "overflow"], message }),
    );
  });

export type Pool = z.output<typeof poolSchema>;

type WarmFields = Pick<Pool, "name" | "minIdle" | "schedule" | "warm" | "maxIdle" | "maxRunners" | "warmScope">;
type FieldProblem = { path: (string | number)[]; message: string };

/** What is wrong with a pool's schedule: cron expressions and time zones that do not parse, floors above maxRunners. */
function scheduleProblems(pool: WarmFields): FieldProblem[] {
  return pool.schedule.flatMap((entry, index) => {
    const at = ["schedule", index];
    const cron = cronProblem(entry.cron);
    const zone = timeZoneProblem(entry.timezone);
    return [
      ...(cron ? [{ path: [...at, "cron"], message: `${cron} (pool "${pool.name}")` }] : []),
      ...(zone ? [{ path: [...at, "timezone"], message: `${zone} (pool "${pool.name}")` }] : []),
      ...(entry.minIdle > pool.maxRunners
        ? [{ path: [...at, "minIdle"], message: `must not exceed maxRunners (${pool.maxRunners})` }]
        : []),
    ];
  });
}

/** What is wrong with an adaptive pool's maxIdle: set on a static pool, or outside the floors and maxRunners. */
function maxIdleProblems(pool: WarmFields): FieldProblem[] {
  if (pool.maxIdle === undefined) return [];
  const highest = Math.max(pool.minIdle, ...pool.schedule.map((entry) => entry.minIdle));
  let message: string | undefined;
  if (pool.warm !== "adaptive") message = "only an adaptive pool (warm: adaptive) uses it";
  else if (pool.maxIdle > pool.maxRunners) message = `must not exceed maxRunners (${pool.maxRunners})`;
  else if (pool.maxIdle < highest) message = `must be at least the highest floor, minIdle or schedule (${highest})`;
  return message ? [{ path: ["maxIdle"], message }] : [];
}

/** What is wrong with a pool's warm runner fields: floors above maxRunners, warm runners with nowhere to register. */
function warmProblems(pool: WarmFields): FieldProblem[] {
  const problems = scheduleProblems(pool);
  const above = `must not exceed maxRunners (${pool.maxRunners})`;
  if (pool.minIdle > pool.maxRunners) problems.push({ path: ["minIdle"], message: above });
  problems.push(...maxIdleProblems(pool));
  const warms = pool.minIdle > 0 || pool.warm === "adaptive" || pool.schedule.some((entry) => entry.minIdle > 0);
  if (warms && !pool.warmScope) {
    problems.push({
      path: ["warmScope"],
      message:
        "required when the pool keeps warm runners (minIdle > 0, a schedule or warm: adaptive): " +
        "the organization (or owner/repo) they register with",
    });
  }
  return problems;
}

/** What a worker warns about at start: opt-ins that weaken isolation, and limits left to defaults. */
export function poolWarnings(pools: readonly Pool[]): { pool: string; message: string }[] {
  return pools.flatMap((pool) => [
    ...(pool.allowHostNetwork && sharesNetwork(pool.network)
      ? [{ pool: pool.name, message: `jobs share the network "${pool.network}" (allowHostNetwork)` }]
      : []),
    ...pool.volumes
      .filter((volume) => isHostPath(volume.source))
      .map((volume) => ({
        pool: pool.name,
        message: `jobs mount the host path ${volume.source} at ${volume.target}${volume.readOnly ? " read-only" : ""}`,
      })),
    ...pool.defaultedLimits.map((limit) => ({
      pool: pool.name,
      message:
        limit === "memory"
          ? `no resources.memory set; using the default ${DEFAULT_RUNNER_LIMITS.memoryBytes / 1024 ** 3}g`
          : `no resources.pids set; using the default ${DEFAULT_RUNNER_LIMITS.pids}`,
    })),
  ]);
}
