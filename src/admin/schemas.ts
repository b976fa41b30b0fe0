import { z } from "zod";
import { poolOverrideSchema } from "../pools/overrides.js";
import { feedEntrySchema } from "../state/event-feed.js";

/**
 * The admin API's shapes in one place: request validation uses them, responses are typed by
 * them, and the OpenAPI description is generated from them, so the three cannot drift apart.
 */

export const JOB_STATES = ["waiting", "delayed", "active", "completed", "failed"] as const;
export type JobListState = (typeof JOB_STATES)[number];

export const MAX_PER_PAGE = 200;
export const DEFAULT_PER_PAGE = 50;

const wholeNumber = (max: number) =>
  z
    .string()
    .regex(/^[1-9][0-9]{0,8}$/, "must be a whole number from 1")
    .transform(Number)
    .pipe(z.number().max(max, `must be at most ${max}`));

export const jobsQuerySchema = z.object({
  state: z.enum(JOB_STATES, `must be one of ${JOB_STATES.join(", ")}`),
  page: wholeNumber(1_000_000).default(1),
  perPage: wholeNumber(MAX_PER_PAGE).default(DEFAULT_PER_PAGE),
});

export const runnersQuerySchema = z.object({
  pool: z.string().min(1, "must not be empty").optional(),
});

export const drainQuerySchema = z.object({
  force: z
    .enum(["true", "false"], "must be true or false")
    .default("false")
    .transform((text) => text === "true"),
});

export const errorSchema = z.object({
  error: z.string(),
  details: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});
export type ErrorBody = z.output<typeof errorSchema>;
export type FieldProblem = NonNullable<ErrorBody["details"]>[number];

export const poolCountsSchema = z.object({
  starting: z.int().min(0),
  idle: z.int().min(0),
  busy: z.int().min(0),
  /** The pool's jobs GitHub reports queued that no runner has taken yet (starting or parked runners included). */
  waiting: z.int().min(0),
  /** Runners holding one of the pool's maxRunners slots (reserved or running). */
  slotsHeld: z.int().min(0),
  /** Entries parked until a slot of the pool frees. */
  parked: z.int().min(0),
});
export type PoolCounts = z.output<typeof poolCountsSchema>;

export const IMAGE_STATES = ["present", "pulling", "failed", "unknown"] as const;

/** The pool's image on one engine (engines where runnerhub has looked at it). */
export const imageStatusSchema = z.object({
  engine: z.string(),
  state: z.enum(IMAGE_STATES),
  /** Last successful pull by runnerhub (ISO time), null if it never pulled the image there. */
  lastPulledAt: z.string().nullable(),
  failure: z
    .object({
      reason: z.string(),
      message: z.string(),
      attempts: z.int(),
      failedAt: z.string(),
      nextRetryAt: z.string(),
    })
    .nullable(),
});
export type ImageStatusView = z.output<typeof imageStatusSchema>;

/** A pool whose runners keep ending before they take a job, so its provisioning backs off. */
export const crashLoopSchema = z.object({
  /** Runners in a row that ended before taking a job. */
  crashes: z.int().min(0),
  /** Backoffs begun so far; each lasts twice the one before, up to a ceiling. */
  backoffs: z.int().min(0),
  /** No runner is made for the pool before this (ISO time); in the past: the next runner is being tried. */
  backoffUntil: z.string(),
  lastCrashAt: z.string(),
  /** The last runner that ended before taking a job, its exit code and reason (crashed, oom-killed, never-started). */
  lastRunner: z.string(),
  lastExitCode: z.int().nullable(),
  lastReason: z.string(),
  /** Its last log lines (secrets masked); empty when none were kept. */
  lastLines: z.string(),
  /** What to do about it, when the reason says (runner-outdated: GitHub refuses the image's runner version). */
  fix: z
    .string()
    .optional()
    .describe(
      "What to do about the crash loop, when its last reason says: for runner-outdated (GitHub refuses the runner version in the pool's image), use a newer image and pull: always",
    ),
});
export type CrashLoopView = z.output<typeof crashLoopSchema>;

/** Why a pool keeps the idle runners it does (src/pools/warm-target.ts). */
export const warmReasonSchema = z.object({
  /** floor: minIdle; schedule: a schedule entry matching this minute; forecast: an adaptive pool's demand, above its floor. */
  kind: z.enum(["floor", "schedule", "forecast"]),
  /** minIdle, or the matching schedule entry's. */
  floor: z.int().min(0),
  /** The schedule entry that set the floor, null when none matches. */
  schedule: z.object({ cron: z.string(), timezone: z.string(), minIdle: z.int().min(0) }).nullable(),
  /** An adaptive pool's forecast; null for a static pool. */
  forecast: z
    .object({
      /** Arrivals a minute the forecast uses: the higher of the two below. */
      perMinute: z.number().min(0),
      /** Over the pool's forecastWindow. */
      recentPerMinute: z.number().min(0),
      /** In the same hour of the week of earlier weeks; null before a week of history. */
      sameHourPerMinute: z.number().min(0).nullable(),
      historyWeeks: z.int().min(0),
      /** The median recent runner boot (container start to online); a default until one was measured. */
      bootSeconds: z.number().min(0),
      bootMeasured: z.boolean(),
      /** Jobs expected during one boot. */
      expected: z.number().min(0),
      /** Idle runners that serve the arrivals of one boot 95% of the time. */
      withMargin: z.int().min(0),
    })
    .nullable(),
  /** What held the target below what the floor or forecast asked for: maxIdle, or the pool's free slots. */
  cappedBy: z.object({ by: z.enum(["maxIdle", "freeSlots"]), limit: z.int().min(0) }).nullable(),
});

/** Where the pool's runners may run, and whether its waiting demand has any engine that may take it. */
export const poolPlacementSchema = z.object({
  /** spread: the engine with the most room; pack: the one with the least room that still fits. */
  rule: z.enum(["spread", "pack"]),
  /** Labels an engine must carry (RUNNERHUB_ENGINE_LABELS) to run the pool's runners. */
  engineLabels: z.array(z.string()),
  /**
   * Set while the pool has waiting jobs and no live engine may take them (none alive, all drained,
   * none with the labels, none big enough): since when, and why each known engine refuses.
   */
  noEngine: z
    .object({
      since: z.int(),
      refused: z.array(z.object({ engine: z.string(), reason: z.enum(["silent", "draining", "labels", "too-small"]) })),
    })
    .nullable(),
});

/** A fair-share pool (perRepository): its per-repository ceiling and each repository's share now. */
export const fairShareSchema = z
  .object({
    /** The pool's perRepository.maxRunners: no repository holds more runners at once. */
    maxRunnersPerRepository: z.int().min(1),
    /** Every repository holding a slot of the pool or with a job waiting, by name. */
    repositories: z.array(
      z.object({
        /** owner/repo, lower case. */
        repository: z.string(),
        /** Runners holding a slot for the repository: being made or running (registered at the repository). */
        running: z.int().min(0),
        /** Its jobs GitHub reported queued that no runner took yet. */
        waiting: z.int().min(0),
        /** Provision entries parked until the repository's turn (round-robin) and a free slot. */
        parked: z.int().min(0),
      }),
    ),
  })
  .meta({ description: "Present only for a pool with perRepository (fair share inside the pool)" });
export type FairShareView = z.output<typeof fairShareSchema>;

export const poolViewSchema = z.object({
  name: z.string(),
  labels: z.array(z.string()),
  image: z.string(),
  pull: z.enum(["missing", "always", "never"]),
  imageStatus: z.array(imageStatusSchema),
  limits: z.object({
    maxRunners: z.int(),
    minIdle: z.int(),
    idleTimeoutMs: z.int(),
    maxLifetimeMs: z.int(),
  }),
  overrides: poolOverrideSchema,
  counts: poolCountsSchema,
  /** Idle runners (starting ones included) the pool keeps now beyond those its waiting jobs claim. */
  warmTarget: z.int().min(0),
  warmReason: warmReasonSchema,
  /** crash-looping: its runners keep ending before taking a job, and runners are made only after a backoff. */
  health: z.enum(["ok", "crash-looping"]),
  /** The crash loop, while the pool is crash-looping (DELETE /admin/pools/{name}/crash-loop ends it). */
  crashLoop: crashLoopSchema.nullable(),
  /** Absent from servers older than API 1.2.0. */
  placement: poolPlacementSchema.optional(),
  /** The pool this pool's jobs start in when it cannot start them now (pools file `overflow`); absent when none. */
  overflow: z
    .string()
    .optional()
    .describe(
      "The pool a job of this pool starts in when this pool (or its engine) is full and that pool carries every label of the job; a job moves once at most",
    ),
  fairShare: fairShareSchema.optional(),
});
export type PoolView = z.output<typeof poolViewSchema>;

export const poolsResponseSchema = z.object({ pools: z.array(poolViewSchema) });

export const runnerViewSchema = z.object({
  name: z.string(),
  pool: z.string(),
  engine: z.string(),
  state: z.enum(["starting", "idle", "busy"]),
  installationId: z.int(),
  scope: z.union([
    z.object({ kind: z.literal("org"), org: z.string() }),
    z.object({ kind: z.literal("repo"), owner: z.string(), repo: z.string() }),
  ]),
  jobId: z.int(),
  runnerId: z.int().nullable(),
  containerId: z.string().nullable(),
  busyJobId: z.int().nullable(),
  createdAt: z.int(),
  completedAt: z.int().nullable(),
  retiring: z.string().nullable(),
  /** owner/repo of the job the runner runs, else of the job it was made for; null when not known. */
  repository: z.string().nullable(),
});
export type RunnerView = z.output<typeof runnerViewSchema>;

export const runnersResponseSchema = z.object({ runners: z.array(runnerViewSchema) });

export const runnerDetailSchema = runnerViewSchema.extend({
  /** exited: the container is gone; what happened is kept for a day. */
  state: z.enum(["starting", "idle", "busy", "exited"]),
  exit: z
    .object({
      at: z.int(),
      /** completed, crashed, oom-killed, never-started, start-failed, gone, or why runnerhub stopped it. */
      reason: z.string(),
      exitCode: z.int().nullable(),
      oomKilled: z.boolean(),
    })
    .nullable(),
  /** The most memory the container used and the CPU time it took, from Docker stats readings. */
  usage: z.object({ peakMemoryBytes: z.int().min(0), cpuSeconds: z.number().min(0) }).nullable(),
  /** The OOM-killed job was re-run on this pool. */
  rerun: z.object({ pool: z.string(), at: z.int() }).nullable(),
  /** The container's last log lines, secrets masked, kept when it was removed; null while it runs (see …/logs). */
  logs: z.string().nullable(),
});
export type RunnerDetail = z.output<typeof runnerDetailSchema>;

export const logsQuerySchema = z.object({
  follow: z
    .enum(["true", "false"], "must be true or false")
    .default("false")
    .transform((text) => text === "true"),
});

export const drainResponseSchema = z.object({
  runner: runnerViewSchema,
  stop: z.object({ queue: z.string(), jobId: z.string(), reason: z.enum(["drained", "drained-forced"]) }),
  /** Whether GitHub's registration was deleted before the stop (false: unknown id or already gone). */
  registrationDeleted: z.boolean(),
});

export const jobViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  state: z.string(),
  data: z.record(z.string(), z.unknown()),
  attemptsMade: z.int(),
  failedReason: z.string().nullable(),
  timestamp: z.int(),
  processedOn: z.int().nullable(),
  finishedOn: z.int().nullable(),
});
export type JobView = z.output<typeof jobViewSchema>;

export const jobsPageSchema = z.object({
  state: z.enum(JOB_STATES),
  page: z.int(),
  perPage: z.int(),
  total: z.int(),
  pages: z.int(),
  jobs: z.array(jobViewSchema),
});

const count = z.int().min(0);

export const queueCountsSchema = z.object({
  queue: z.string(),
  counts: z.object({ waiting: count, delayed: count, active: count, completed: count, failed: count }),
});

const engineResourceSchema = z.object({ total: z.number().min(0), reserved: z.number().min(0), free: z.number() });

export const engineViewSchema = z.object({
  name: z.string(),
  starting: count,
  idle: count,
  busy: count,
  /** RUNNERHUB_ENGINE_CAPACITY of the engine's worker, "unlimited" without one; null: not known to this process. */
  capacity: z.union([z.int(), z.literal("unlimited")]).nullable(),
  /**
   * ok: its worker's heartbeat is fresh (or this process works on it and pinged it); unreachable:
   * this process' ping failed; silent: no heartbeat within RUNNERHUB_HEARTBEAT_TIMEOUT (its runners
   * are being given up); unknown: it holds runners but never beat.
   */
  health: z.enum(["ok", "unreachable", "silent", "unknown"]),
  /** ms since its worker's last heartbeat; null without one. */
  lastBeatMs: z.int().min(0).nullable(),
  /** RUNNERHUB_ENGINE_LABELS of its worker. */
  labels: z.array(z.string()),
  /** Drained (`runnerhub engines drain`): it starts no runner; its busy ones finish. */
  draining: z.boolean(),
  /** Memory (bytes) runners may reserve there, what its runners reserve, and what is left; null: its worker published none. */
  memory: engineResourceSchema.nullable(),
  /** CPUs likewise (runners of pools without resources.cpus reserve none). */
  cpus: engineResourceSchema.nullable(),
});
export type EngineView = z.output<typeof engineViewSchema>;

export const enginesResponseSchema = z.object({ engines: z.array(engineViewSchema) });

const seconds = z.number().min(0);

/** One pool's last hour: samples of its runners, demand and warm target, and its pickup percentiles. */
export const poolHistorySchema = z.object({
  pool: z.string(),
  /** The window (ms). */
  from: z.int(),
  to: z.int(),
  /** Idle runners the pool aims to keep now. */
  target: count,
  samples: z.array(z.object({ at: z.int(), starting: count, idle: count, busy: count, waiting: count, target: count })),
  /** Seconds from the queued webhook to in_progress, per minute with jobs taken: median, 95th percentile. */
  pickups: z.array(z.object({ at: z.int(), p50: seconds, p95: seconds, jobs: count })),
});
export type PoolHistoryView = z.output<typeof poolHistorySchema>;

/** A queued self-hosted job no pool serves, until a runner takes it or it ends. */
export const unmatchedJobSchema = z.object({
  jobId: z.int(),
  repository: z.string(),
  /** The job's runs-on labels as GitHub sent them (none for runs-on: {group: …}). */
  labels: z.array(z.string()),
  /** no-matching-pool: no pool carries every label (a size or label nobody offers); no-labels: no labels and no groupDefault pool. */
  reason: z.enum(["no-matching-pool", "no-labels"]),
  /** The pool missing the fewest of the job's labels (then the first declared); absent for a label-less job. */
  nearestPool: z.string().optional(),
  /** The job's labels the nearest pool lacks. */
  missing: z.array(z.string()),
  /** When its queued webhook arrived (ms since epoch). */
  at: z.int(),
});
export type UnmatchedJobView = z.output<typeof unmatchedJobSchema>;

export const unmatchedJobsResponseSchema = z.object({ jobs: z.array(unmatchedJobSchema) });

/** Everything the dashboard and `runnerhub top` show, read at one moment. */
export const overviewSchema = z.object({
  at: z.int(),
  pools: z.array(poolViewSchema),
  engines: z.array(engineViewSchema),
  runners: z.array(runnerViewSchema),
  queue: queueCountsSchema,
  /** The newest timeline entries, newest first. */
  events: z.array(feedEntrySchema),
  /** Each pool's last hour, for the charts. */
  history: z.array(poolHistorySchema),
  /** Recent queued jobs no pool serves, newest first (absent from servers before it existed). */
  unmatched: z.array(unmatchedJobSchema).optional(),
});
export type Overview = z.output<typeof overviewSchema>;
