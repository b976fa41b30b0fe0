/**
 * Every Redis key runnerhub writes, built from the configured prefix (RUNNERHUB_REDIS_PREFIX), the
 * way BullMQ's QueueKeys owns its layout: stores, tests and tools build keys here and nowhere else.
 * BullMQ's own keys (`<prefix>:<queue>:…`) share the prefix; the queue names are in src/queue/jobs.ts.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  /** String, no TTL: a live runner's record as JSON (RunnerRecord). */
  runner(name: string): string {
    return `${this.prefix}:runner:${name}`;
  }

  /** Set, no TTL: the names of the live runners, the index of runner(name). */
  get runners(): string {
    return `${this.prefix}:runners`;
  }

  /**
   * Set, no TTL: the names of the pool's live runners that can still take a job (not busy, not
   * retiring; freeRunners in src/pools/supply.ts), kept by the scripts that write runner records,
   * so a provision weighs demand against these without reading the pool's busy runners.
   */
  freeRunnersOfPool(pool: string): string {
    return `${this.freeRunnersOfPoolPrefix}${pool}`;
  }

  /** The part of freeRunnersOfPool(pool) before the pool's name (the scripts append the name they read). */
  get freeRunnersOfPoolPrefix(): string {
    return `${this.prefix}:free-runners-of-pool:`;
  }

  /** String, 24 h TTL: an exited runner's last record and why it went (RunnerExitRecord as JSON). */
  runnerExit(name: string): string {
    return `${this.prefix}:runner-exit:${name}`;
  }

  /** String, 24 h TTL: an exited runner's last log lines, secrets masked (kept beside runnerExit(name)). */
  runnerLogs(name: string): string {
    return `${this.prefix}:runner-logs:${name}`;
  }

  /**
   * String, 3 days TTL: taken (SET NX) when a job OOM-killed its runner and is re-run on a bigger
   * pool (OomRerunClaim as JSON). A re-run gets a new job id, so the key is the run and the job's
   * name; intake routes the re-run's queued job by it, and it keeps the re-run to once.
   */
  oomRerun(owner: string, repo: string, runId: number, jobName: string): string {
    return `${this.prefix}:oom-rerun:${owner.toLowerCase()}/${repo.toLowerCase()}:${runId}:${jobName}`;
  }

  /** String "1", 60 s TTL: taken (SET NX) by the one process that cleans up after a container. */
  cleanupClaim(containerId: string): string {
    return `${this.prefix}:cleanup:${containerId}`;
  }

  /** String "1", 24 h TTL: taken (SET NX) by whoever first sees the runner online, which measures its start-up once. */
  onlineClaim(name: string): string {
    return `${this.prefix}:online:${name}`;
  }

  /**
   * String "1", 24 h TTL: taken (SET NX) by whoever first ends the runner's time without a job
   * (taking a job, or ending without one), which counts that time once.
   */
  idleEndClaim(name: string): string {
    return `${this.prefix}:idle-end:${name}`;
  }

  /** Sorted set, no TTL: ids of the pool's GitHub jobs still waiting for a runner, scored by queuedAt (ms). */
  queuedJobs(pool: string): string {
    return `${this.prefix}:queued:${pool}`;
  }

  /** Hash, no TTL: GitHub job id -> its ProvisionRequest as JSON, for the ids in queuedJobs(pool). */
  queuedDemand(pool: string): string {
    return `${this.prefix}:queued-demand:${pool}`;
  }

  /**
   * Sorted set, no TTL, the newest WARM_ARRIVALS_KEPT only: ids of the pool's GitHub jobs that
   * arrived (queued), scored by queuedAt (ms): the recent arrival rate of an adaptive pool.
   */
  arrivals(pool: string): string {
    return `${this.prefix}:arrivals:${pool}`;
  }

  /** String counter, TTL of WARM_HISTORY_WEEKS + 1 weeks: the pool's arrivals in one hour (hours since the epoch, UTC). */
  arrivalsInHour(pool: string, hour: number): string {
    return `${this.prefix}:arrivals-hour:${pool}:${hour}`;
  }

  /** String, no TTL: the hour (since the epoch) of the pool's first arrival; earlier weeks count as history from then on. */
  arrivalsSince(pool: string): string {
    return `${this.prefix}:arrivals-since:${pool}`;
  }

  /** List, newest first, WARM_BOOT_SAMPLES long: the pool's recent runner boot times (container start to online), seconds. */
  bootSeconds(pool: string): string {
    return `${this.prefix}:boot-seconds:${pool}`;
  }

  /** String "1", 24 h TTL: the GitHub job was taken or finished; a late `queued` for it is ignored. */
  settledJob(githubJobId: number): string {
    return `${this.prefix}:settled:${githubJobId}`;
  }

  /**
   * String, 24 h TTL: the pool a waiting job overflowed to (overflow-demand.lua); its demand is
   * settled there, and a late `queued` does not record it in its first pool again.
   */
  overflowedJob(githubJobId: number): string {
    return `${this.prefix}:overflowed:${githubJobId}`;
  }

  /** String, 5 min TTL: the job's status as GitHub last answered it (bounds status checks per job). */
  jobStatus(githubJobId: number): string {
    return `${this.prefix}:job-status:${githubJobId}`;
  }

  /**
   * String, expires at GitHub's rate-limit reset: the requests left (`x-ratelimit-remaining`) in
   * the last response GitHub sent this installation ("app" for the app's JWT), written only below
   * the floor and read by every process's budget floor.
   */
  githubRateLimit(installation: string): string {
    return `${this.prefix}:github-rate-limit:${installation}`;
  }

  /** Hash, no TTL: targetKey -> installation and scope last seen in a webhook, with seenAt (pruned after 24 h). */
  get targets(): string {
    return `${this.prefix}:targets`;
  }

  /**
   * Sorted set, no TTL: runners holding a slot of a pool or engine, scored by lease expiry (ms on
   * Redis' clock) while their container is being made, then +inf until released.
   */
  slots(kind: "pool" | "engine", name: string): string {
    return `${this.slotsPrefix(kind)}${name}`;
  }

  /** The part of slots(kind, name) before the name (retiring a runner appends its record's pool and engine). */
  slotsPrefix(kind: "pool" | "engine"): string {
    return `${this.prefix}:slots:${kind}:`;
  }

  /**
   * The part of a pool's per-repository slot sets before the repository (`owner/repo`, lower case):
   * sorted sets like slots(kind, name), one per repository of a pool with perRepository, kept by
   * take-slot.lua (which appends the repository it reads).
   */
  repoSlotsPrefix(pool: string): string {
    return `${this.repoSlotsRoot}${pool}:`;
  }

  /** The part of repoSlotsPrefix(pool) before the pool (retiring a runner appends its record's pool, ":" and the repository). */
  get repoSlotsRoot(): string {
    return `${this.prefix}:slots:repo:`;
  }

  /** Hash, no TTL: runner name -> repository of each slot of a pool with perRepository, so freeing a slot finds its repository's set. */
  slotRepos(pool: string): string {
    return `${this.slotReposPrefix}${pool}`;
  }

  /** The part of slotRepos(pool) before the pool (retiring a runner appends its record's pool). */
  get slotReposPrefix(): string {
    return `${this.prefix}:slot-repos:`;
  }

  /**
   * The part of a pool's per-repository parked sets before the repository: sorted sets like
   * parked("pool", name), one per repository of a pool with perRepository (the scripts append it).
   */
  parkedRepoPrefix(pool: string): string {
    return `${this.prefix}:parked:repo:${pool}:`;
  }

  /** List, no TTL: the repositories with demand parked on a pool with perRepository, in the order the wake serves them (round-robin). */
  parkedRepos(pool: string): string {
    return `${this.prefix}:parked-repos:${pool}`;
  }

  /** Sorted set, no TTL: BullMQ ids of provision entries parked until a slot of this pool or engine frees, scored by queuedAt. */
  parked(kind: "pool" | "engine", name: string): string {
    return `${this.prefix}:parked:${kind}:${name}`;
  }

  /**
   * String, TTL of CRASH_LOOP_MEMORY_MS after the last crash: the pool's crash loop (CrashLoopRecord
   * as JSON, src/pools/crash-loop.ts), written by compare-and-set, removed when a runner takes a job.
   */
  crashLoop(pool: string): string {
    return `${this.prefix}:crash-loop:${pool}`;
  }

  /**
   * Hash, no TTL: GitHub job id -> a recent job no pool serves (UnmatchedJob as JSON), at most
   * UNMATCHED_JOBS_KEPT of them, indexed by unmatchedJobsByTime; removed once the job is taken or ends.
   */
  get unmatchedJobs(): string {
    return `${this.prefix}:unmatched-jobs`;
  }

  /** Sorted set, no TTL: the job ids of unmatchedJobs, scored by when each arrived (ms). */
  get unmatchedJobsByTime(): string {
    return `${this.prefix}:unmatched-jobs-by-time`;
  }

  /** Hash, no TTL: pool name -> its run-time PoolOverride as JSON (read by the slot script too). */
  get poolOverrides(): string {
    return `${this.prefix}:pool-overrides`;
  }

  /** String counter, TTL of the recovery's max age after the last request: redeliveries asked for one webhook event. */
  deliveryRedeliveries(guid: string): string {
    return `${this.prefix}:delivery-redeliveries:${guid}`;
  }

  /** String "1", TTL of the recovery's max age: set once an event is given up, so it is reported once. */
  deliveryAbandoned(guid: string): string {
    return `${this.prefix}:delivery-abandoned:${guid}`;
  }

  /** String, TTL of the recovery's max age: delivered_at (ms) of the newest delivery a recovery pass saw. */
  get deliveryCursor(): string {
    return `${this.prefix}:delivery-cursor`;
  }

  /** String, TTL of the recovery's max age: when (ms) a recovery pass last listed GitHub's deliveries. */
  get deliveryCheckedAt(): string {
    return `${this.prefix}:delivery-checked-at`;
  }

  /** String "1", TTL of the recovery's max age: set when a webhook may have been missed; the next pass looks. */
  get deliverySuspect(): string {
    return `${this.prefix}:delivery-suspect`;
  }

  /**
   * Sorted set, TTL of the recovery's max age: guids of events still awaiting a redelivery that
   * GitHub answered, scored by their original delivered_at (ms); the next pass lists back to the oldest.
   */
  get deliveryUnresolved(): string {
    return `${this.prefix}:delivery-unresolved`;
  }

  /** String "1", TTL of the sweep interval: taken (SET NX) by the one pass that lists this scope's registrations for orphans. */
  reconcileSweep(targetKey: string): string {
    return `${this.prefix}:lock:reconcile-sweep:${targetKey}`;
  }

  /** String, 5 min TTL: the token of the process running a reconcile pass on this engine. */
  reconcileLock(engine: string): string {
    return `${this.prefix}:lock:reconcile:${engine}`;
  }

  /**
   * Hash {points, at}, expires once it would be full again: one installation's GitHub call budget
   * ("app": the app's JWT), shared by every process, in GitHub's secondary-limit points left at
   * `at` (ms on Redis' clock; in the future while a pause lasts).
   */
  githubInstallationBudget(installation: string): string {
    return `${this.prefix}:github-budget:${installation}`;
  }

  /**
   * String, TTL of the pause: ms on Redis' clock until which no process calls GitHub for this
   * installation ("app": the app's JWT), after GitHub answered it with a rate limit.
   */
  githubPause(installation: string): string {
    return `${this.prefix}:github-pause:${installation}`;
  }

  /**
   * Hash, no TTL: engine name -> JSON {engineId, at} of the last heartbeat of a worker on that
   * engine (at: ms on Redis' clock); removed once a lost engine's records and slots are gone.
   */
  get heartbeats(): string {
    return `${this.prefix}:heartbeats`;
  }

  /**
   * Hash, no TTL: runner name -> "memoryBytes milliCpus" it reserves on this engine. Only runners
   * holding a live slot of the engine count (admit-runner.lua), so a stale entry costs nothing.
   */
  engineReserved(engine: string): string {
    return `${this.prefix}:engine-reserved:${engine}`;
  }

  /** Hash, no TTL: engine name -> JSON EngineProfile (labels, memory, CPUs, capacity) its worker publishes. */
  get engineProfiles(): string {
    return `${this.prefix}:engine-profiles`;
  }

  /** Hash, no TTL: engine name -> when it was drained (ms); a drained engine starts no runner. */
  get drainingEngines(): string {
    return `${this.prefix}:engines-draining`;
  }

  /** Hash, no TTL: pool name -> JSON {since, reasons} while no live engine may take its demand. */
  get unplaceablePools(): string {
    return `${this.prefix}:pools-unplaceable`;
  }

  /** String, 2 min TTL: the token of the one process cleaning up after this lost engine. */
  engineLossLock(engine: string): string {
    return `${this.prefix}:lock:engine-loss:${engine}`;
  }

  /**
   * Stream capped near FEED_MAX_LENGTH entries (XADD MAXLEN ~), field `event`: the dashboard's
   * timeline of jobs and runners (FeedEvent as JSON). Read by people only, never by decisions.
   */
  get events(): string {
    return `${this.prefix}:events`;
  }

  /** String, 2 min TTL: the token of the one reconcile pass deciding this pool's retirements. */
  retireLock(pool: string): string {
    return `${this.prefix}:lock:retire:${pool}`;
  }

  /**
   * Hash, no TTL: `engine|image` -> what runnerhub knows about a runner image on that engine
   * (ImageRecord as JSON: last pull, failure and backoff, when a pool last named it); one hash for
   * all engines so the admin API reads them at once. Entries go when the image clean-up forgets them.
   */
  get images(): string {
    return `${this.prefix}:images`;
  }

  /**
   * String, 60 s TTL renewed while the pull runs: the token of the one process pulling this image
   * on this engine with these credentials (the `auths` entry's name, "" for an anonymous pull).
   */
  pullLock(engine: string, image: string, credentials: string): string {
    return `${this.prefix}:lock:pull:${engine}|${image}|${credentials}`;
  }

  /**
   * Sorted set, TTL of the history window after the last write: the pool's pickups (queued webhook
   * to in_progress), member `jobId:seconds`, scored by when the job was taken (ms); older than the
   * window trimmed on write. The dashboard's pickup percentiles are computed from these.
   */
  pickups(pool: string): string {
    return `${this.prefix}:history:pickups:${pool}`;
  }

  /**
   * Hash, TTL of the history window after the last write: sample time (ms, a multiple of the
   * sample interval) -> the pool's runners by state, waiting demand and warm target as JSON,
   * written HSETNX so one sample per interval is kept whichever process takes it.
   */
  poolSamples(pool: string): string {
    return `${this.prefix}:history:samples:${pool}`;
  }

  /** Hash written by BullMQ: one entry of a queue (data, finishedOn, …), kept as the queue's options say. */
  queueJob(queue: string, jobId: string): string {
    return `${this.prefix}:${queue}:${jobId}`;
  }

  /** Pattern for KEYS/SCAN matching every key of this prefix, runnerhub's and BullMQ's. */
  get everything(): string {
    return `${this.prefix}:*`;
  }
}
