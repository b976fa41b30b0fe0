/**
 * Every timing and sizing constant the code relies on, each with the reason for its value (in the
 * manner of garm's runner/common/pool.go). What an operator may change lives in src/config; these
 * are the values that follow from how GitHub, Docker, Redis and BullMQ behave.
 */

const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_SECONDS = 24 * 3600;

/**
 * GitHub fails a job that no runner took within 24 hours. Demand, ledger entries and failed
 * webhook deliveries older than that stand for nothing that can still run.
 */
export const GITHUB_JOB_MAX_QUEUE_MS = 24 * HOUR_MS;

// --- Provisioning -------------------------------------------------------------------------------

/**
 * GitHub's answer to "is this job still queued?" is kept this long per job: demand woken again and
 * again (a busy pool) asks GitHub at most once per job in this window. A job settled meanwhile by
 * a lost webhook gets a runner it does not need, which the reconciler retires.
 */
export const JOB_STATUS_CACHE_MS = 5 * MINUTE_MS;

/**
 * How long a job that was taken or finished is remembered: a `queued` webhook processed after its
 * `in_progress` or `completed` (redelivered late, or overtaken) is ignored for that long. GitHub
 * fails a job nobody took within a day, so no real `queued` comes later than that.
 */
export const SETTLED_JOB_MEMORY_SECONDS = DAY_SECONDS;

/**
 * Runners started at once per process: starting one is mostly waiting on GitHub and Docker. A
 * burst inside the GitHub budget should start at Docker's pace, and Docker creates containers
 * concurrently, so a burst's jobs must not wait behind a first wave (docs/benchmarks.md).
 */
export const PROVISION_CONCURRENCY = 32;

/**
 * A slot reserved but not confirmed within this time is reclaimed (its worker presumably died).
 * Two minutes covers a slow registration-token call plus container create and start.
 */
export const RESERVATION_LEASE_MS = 2 * MINUTE_MS;

/**
 * Demand over a ceiling is parked as a delayed entry and woken by the release of a slot; the
 * delay is only the safety net for a wake-up that never comes (a process killed mid-release).
 */
export const PARK_FALLBACK_MS = 30 * SECOND_MS;

/**
 * A full engine is this engine's problem only: its demand comes back this soon, when a worker of
 * another engine may take it, instead of waiting for a slot here.
 */
export const ENGINE_FULL_RETRY_MS = 2 * SECOND_MS;

/**
 * A worker that leaves a provision entry to a better-placed engine puts it back this soon: the
 * shared queue gives it to whichever worker asks first, so it may take a few hand-offs to reach
 * the engine placement chose; short, so a hand-off costs next to nothing in start-up time.
 */
export const PLACEMENT_HANDOFF_MS = 20;

/**
 * After this many hand-offs an entry is started on any engine it fits: about a second of
 * hand-offs, which the preferred engine's worker misses only when it is slow, paused or gone.
 */
export const MAX_PLACEMENT_HANDOFFS = 50;

/**
 * Demand no live engine may take (labels nobody has, every engine drained) looks again this
 * often; an engine that comes or is undrained takes it within this time.
 */
export const NO_ENGINE_RETRY_MS = 5 * SECOND_MS;

/** Upper bound of parked entries tried per freed slot (entries may have woken by themselves). */
export const MAX_WAKE_TRIES = 20;

/** Provision attempts before an entry fails for good: with the backoff below, about two minutes. */
export const PROVISION_ATTEMPTS = 8;

/** First retry delay of a failed provision attempt, doubled each time (exponential backoff). */
export const PROVISION_BACKOFF_MS = SECOND_MS;

/** Finished provision entries are kept for a day so a late redelivery of the same job id adds nothing. */
export const PROVISION_KEEP_COMPLETED_SECONDS = DAY_SECONDS;

/** Failed provision entries stay a week: long enough to inspect and retry them from the admin API. */
export const PROVISION_KEEP_FAILED_SECONDS = 7 * DAY_SECONDS;

/** Runner resource use is read this often: a short job still gets readings, and the engine a light load. */
export const USAGE_SAMPLE_INTERVAL_MS = 5 * SECOND_MS;

/**
 * Limits of a runner whose pool sets none. One job must not take the whole host (memory, without
 * extra swap) or fork-bomb it (pids); 4 GiB fits typical builds, 4096 processes a parallel build
 * with its test runners. Pools should set their own; a pool relying on these is warned about.
 */
export const DEFAULT_RUNNER_LIMITS = { memoryBytes: 4 * 1024 ** 3, pids: 4096 } as const;

// --- Unmatched jobs ------------------------------------------------------------------------------

/**
 * Recent jobs no pool serves kept for the admin API and dashboard: enough to show every distinct
 * typo or missing size of a busy day, few enough to read in one call; the counter
 * (runnerhub_jobs_unmatched_total) keeps the totals.
 */
export const UNMATCHED_JOBS_KEPT = 100;

// --- Crash loops ---------------------------------------------------------------------------------

/**
 * Runners of a pool that end in a row before taking a job (src/pools/crash-loop.ts) before the pool
 * backs off: one crash is bad luck (a host hiccup, a job that came and went), three in a row with
 * no job taken in between is the pool itself.
 */
export const CRASH_LOOP_THRESHOLD = 3;

/**
 * The first backoff of a crash-looping pool: a reconcile interval or so, so a passing fault (GitHub
 * or the registry briefly away) costs little delay; each later one doubles.
 */
export const CRASH_LOOP_FIRST_BACKOFF_MS = 30 * SECOND_MS;

/**
 * The longest backoff: a pool fixed behind runnerhub's back (an image retagged, a network healed)
 * is tried again within minutes, and a broken one costs six registrations an hour instead of one
 * per reconcile pass.
 */
export const CRASH_LOOP_MAX_BACKOFF_MS = 10 * MINUTE_MS;

/**
 * A pool without a crash for this long starts afresh. Longer than the longest backoff, or the
 * doubling would start over after every capped wait.
 */
export const CRASH_LOOP_MEMORY_MS = 30 * MINUTE_MS;

/** Lines of the last crashed runner's output shown with a crash-looping pool (the API, dashboard and `top`). */
export const CRASH_LOOP_LOG_LINES = 20;

/**
 * Tries of one crash-loop update racing other updates of the same pool (compare-and-set). Every
 * round lets at least one writer through, so a burst of this many runners dying at once (a broken
 * image met by a burst of jobs, more than one process's PROVISION_CONCURRENCY) is counted whole.
 */
export const CRASH_LOOP_WRITE_TRIES = 50;

// --- Runner images ------------------------------------------------------------------------------

/** A pull may take this long in all (a multi-GB image on a slow link), then it fails for retry. */
export const PULL_TIMEOUT_MS = 30 * MINUTE_MS;

/** A pull that reports no progress for this long is stuck (a registry that stopped answering). */
export const PULL_STALL_MS = 2 * MINUTE_MS;

/**
 * The cross-process lock on one image's pull outlives a dead holder by at most this; the holder
 * renews it every third of it, so a live pull never loses it to a slow Redis round trip.
 */
export const PULL_LOCK_TTL_MS = MINUTE_MS;

/** Pull progress (layers, bytes) is logged at most this often per pull, not once per chunk. */
export const PULL_PROGRESS_LOG_MS = 5 * SECOND_MS;

/** How often a process waiting for another process's pull of the same image looks again. */
export const PULL_LOCK_POLL_MS = 500;

/**
 * First retry of a failed pull after this long, doubled per failure in a row: a typo in a tag
 * shows in the log at once, and a registry outage is retried often while it is short.
 */
export const PULL_RETRY_BASE_MS = 5 * SECOND_MS;

/** Retries of a failing image never wait longer than this: a healed registry is used within minutes. */
export const PULL_RETRY_MAX_MS = 5 * MINUTE_MS;

// --- Stopping runners ---------------------------------------------------------------------------

/** How long a runner gets to finish after SIGTERM before Docker kills it. */
export const STOP_GRACE_SECONDS = 10;

/** A stop is retried a few times: Docker may be briefly unreachable, and stopping twice is harmless. */
export const RUNNER_OPS_ATTEMPTS = 3;

/** Done stop requests only matter while their runner may still be around. */
export const RUNNER_OPS_KEEP_COMPLETED_SECONDS = 3600;

/** Failed stop requests stay a day for inspection. */
export const RUNNER_OPS_KEEP_FAILED_SECONDS = DAY_SECONDS;

/**
 * Several processes may watch one engine; the first to claim an ended container cleans up after
 * it. A minute outlasts any clean-up, yet lets a crashed claimer's container be taken again soon.
 */
export const CLEANUP_CLAIM_MS = MINUTE_MS;

/** How long the record of an exited runner (and its last log lines) is kept for inspection. */
export const EXIT_HISTORY_SECONDS = DAY_SECONDS;

/**
 * How much of an ended runner's output is kept with its exit record: the last 64 KiB when it
 * ended abnormally (the lines that say why), a little when it completed (cheap at a day's volume).
 */
export const KEPT_LOG_BYTES = { abnormal: 64 * 1024, completed: 4 * 1024 } as const;

/** Docker splits log lines at 16 KiB, so this many lines bound what is read for the tail. */
export const KEPT_LOG_LINES = { abnormal: 2000, completed: 200 } as const;

/** Docker event stream reconnects back off from half a second, doubling up to this ceiling. */
const RECONNECT_FIRST_DELAY_MS = 500;
const RECONNECT_MAX_DELAY_MS = 30 * SECOND_MS;

/** Waits before re-opening a broken Docker event stream (attempt counts from 0). */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(RECONNECT_FIRST_DELAY_MS * 2 ** attempt, RECONNECT_MAX_DELAY_MS);
}

// --- OOM re-runs ---------------------------------------------------------------------------------

/**
 * GitHub re-runs a job only once its whole workflow run has completed, and fails a job whose
 * runner vanished only after a while: the re-run is asked for at once, then again from 5 s,
 * doubling up to every 2 minutes.
 */
const OOM_RERUN_FIRST_RETRY_MS = 5 * SECOND_MS;
const OOM_RERUN_MAX_RETRY_MS = 2 * MINUTE_MS;

/** The wait before asking GitHub again to re-run an OOM-killed job (attempts made so far, from 1). */
export function rerunRetryDelayMs(attemptsMade: number): number {
  return Math.min(OOM_RERUN_FIRST_RETRY_MS * 2 ** Math.max(0, attemptsMade - 1), OOM_RERUN_MAX_RETRY_MS);
}

/** About six hours of asking (see rerunRetryDelayMs): a run still going after that is left alone. */
export const OOM_RERUN_ATTEMPTS = 180;

/** Re-run entries, done or given up, stay a week for inspection on the dashboard. */
export const OOM_RERUN_KEEP_SECONDS = 7 * DAY_SECONDS;

/** A job's re-run claim (and route) outlives its run finishing and the re-run being queued and served. */
export const OOM_RERUN_CLAIM_SECONDS = 3 * DAY_SECONDS;

// --- Periodic work ------------------------------------------------------------------------------

/**
 * A reconcile pass holds its engine's lock at most this long: far longer than any pass, short
 * enough that a process killed mid-pass blocks its engine's reconciling only briefly.
 */
export const RECONCILE_LOCK_MS = 5 * MINUTE_MS;

/**
 * A Redis lock held around work (reconcile, engine loss, retire) is renewed this many times per
 * lease while the work runs: two renewals in a row may fail (a Redis failover, a GC pause) before
 * the lease runs out and the work is told its lock is lost.
 */
export const LOCK_RENEWALS_PER_LEASE = 3;

/**
 * A runner younger than this needs no GitHub view yet: on the happy path it takes a job within
 * seconds and webhooks tell the rest. Only older runners that are not busy (idle, or never came
 * online) make a reconcile pass list their scope's registrations.
 */
export const RECONCILE_FRESH_RUNNER_MS = MINUTE_MS;

/**
 * Every scope runnerhub served in the last day is listed this often, by one engine's pass, to find
 * registrations left with neither record nor container (a crash between the JIT config and the
 * record). Rare, and harmless meanwhile: GitHub drops a JIT runner that never connects.
 */
export const RECONCILE_SWEEP_MS = 30 * MINUTE_MS;

/**
 * Times one failed delivery is redelivered: a delivery failing three times in a row points at a
 * fault redelivering will not fix, and every redelivery costs a GitHub request.
 */
export const MAX_REDELIVERIES = 3;

// --- Lost engines -------------------------------------------------------------------------------

/**
 * One process cleans up after each lost engine, holding this lock: long enough for a GitHub
 * deletion per runner, short enough that a crash mid-way is retried soon.
 */
export const ENGINE_LOSS_LOCK_MS = 2 * MINUTE_MS;

/**
 * Held while one pass decides and carries out a pool's retirements: passes of several engines run
 * at once, and each would otherwise retire the pool's whole surplus from a snapshot taken before
 * the others retired anything. Long enough for a few stops with their grace period.
 */
export const RETIRE_LOCK_MS = 2 * MINUTE_MS;

/** Failed deliveries older than this are not redelivered: GitHub has failed their jobs by then. */
export const RECOVERY_MAX_AGE_MS = GITHUB_JOB_MAX_QUEUE_MS;

/**
 * How often a recovery pass runs. It asks GitHub only with a reason (a process started, a webhook
 * was answered with an error, a redelivery is pending) or once RUNNERHUB_RECOVERY_INTERVAL has
 * passed since the last look, so a pass without one costs a few Redis reads.
 */
export const RECOVERY_PASS_MS = MINUTE_MS;

/** Periodic runs kept in Redis per task, enough to see recent failures without growing forever. */
export const PERIODIC_RUNS_KEPT = 100;

// --- Connections and requests -------------------------------------------------------------------

/**
 * The longest a webhook waits for Redis to make its demand durable before it is answered 503, so
 * GitHub records a failed delivery (which the recovery pass redelivers) rather than a success
 * nothing stands behind. Well under GitHub's 10 s delivery timeout and the 9 s after which
 * Probot's middleware would answer 202 by itself.
 */
export const INTAKE_TIMEOUT_MS = 3 * SECOND_MS;

/**
 * A GitHub call that cannot get its share of the shared budget within this time fails and its
 * job is retried later, instead of holding a worker slot while the budget refills.
 */
export const GITHUB_BUDGET_MAX_WAIT_MS = 5 * MINUTE_MS;

/**
 * An organization's runner-group ids are read again after this: a group renamed, deleted or
 * recreated at GitHub is picked up within minutes, while a burst of JIT configs still costs one
 * lookup. A JIT config refused for its group (404/422) drops the cached id at once.
 */
export const RUNNER_GROUP_CACHE_MS = 5 * MINUTE_MS;

/**
 * Tries of one request that GitHub answers with a rate limit, the first included: every process
 * pauses between them, so a third refusal means the limit outlasts a worker's patience.
 */
export const RATE_LIMITED_TRIES = 3;

/**
 * Tries of one request that GitHub answers with a server error (5xx, or no answer at all), the
 * first included, as Octokit's retry plugin makes them: its per-request Bottleneck scheduler
 * adds latency to every call (docs/benchmarks.md), so runnerhub retries in its own budgeted
 * request hook instead.
 */
export const GITHUB_SERVER_ERROR_TRIES = 3;

/** Wait before the n-th retry of a server error: this times n², as Octokit's retry plugin waits (1 s, 4 s). */
export const GITHUB_SERVER_ERROR_BACKOFF_MS = SECOND_MS;

/**
 * An open Docker event stream is quiet while nothing happens, so silence proves nothing: every
 * this often a ping checks that the engine still answers, and a failed ping ends the stream (the
 * watcher re-opens it from the last event seen). Catches an engine that went away without closing
 * the connection (a remote host lost, a frozen dockerd) within a reconcile interval.
 */
export const EVENT_STREAM_CHECK_MS = 30 * SECOND_MS;

/** A readiness check slower than this counts as failed: orchestrators probe every few seconds. */
export const HEALTH_CHECK_TIMEOUT_MS = 2 * SECOND_MS;

/** Redis reconnects back off linearly to this ceiling, so a restarted Redis is found within seconds. */
export const REDIS_RECONNECT_MAX_DELAY_MS = 5 * SECOND_MS;
export const REDIS_RECONNECT_STEP_MS = 200;

// --- Dashboard ----------------------------------------------------------------------------------

/** Timeline entries kept (XADD MAXLEN ~): about a day of a small installation, an hour of a busy one. */
export const FEED_MAX_LENGTH = 1000;

/** Timeline entries an overview carries: what fits on a screen below the tables. */
export const OVERVIEW_EVENTS = 40;

/** A dashboard login lasts a working day; logging in again is one field away. */
export const SESSION_TTL_MS = 12 * HOUR_MS;

/**
 * While a dashboard is open, the event feed's newest id is checked this often (one cheap Redis
 * call), so a runner appears on the page within a quarter second of its event.
 */
export const LIVE_POLL_MS = 250;

/** Queue depth and counts also move without an event: the overview is re-read at least this often. */
export const LIVE_REFRESH_MS = 2 * SECOND_MS;

/** A comment line on an idle event stream this often keeps proxies from closing it (they often cut at 30-60 s). */
export const LIVE_KEEPALIVE_MS = 15 * SECOND_MS;

/** The dashboard's charts show each pool's last hour. */
export const HISTORY_WINDOW_MS = HOUR_MS;

/**
 * A pool's runners, demand and warm target are sampled this often: 240 points an hour, fine enough
 * to see a warm runner taken and refilled, and a few hundred bytes per pool per minute in Redis.
 */
export const HISTORY_SAMPLE_MS = 15 * SECOND_MS;

/** Pickup percentiles are taken over this much time per point: enough jobs for a p95 to mean something. */
export const HISTORY_PICKUP_BUCKET_MS = MINUTE_MS;

/** Pickups kept per pool within the window, at most (a busy pool's hour); the oldest go first. */
export const HISTORY_MAX_PICKUPS = 20_000;

/** The dashboard's ping of this process' engine: a hung engine shows as unreachable, not as a hung page. */
export const DASHBOARD_PING_TIMEOUT_MS = 2 * SECOND_MS;

// --- Embedded Redis -----------------------------------------------------------------------------

/**
 * The embedded redis-server (no REDIS_URL) must answer PING on its socket within this time,
 * loading of its append-only file included; a left-over server on the same data folder must
 * answer or exit within it too. runnerhub's data is small (a day of queue entries and records)
 * and loads in well under a second; half a minute still allows a slow disk, and a server that
 * stays silent longer is reported (its last output, the data folder) instead of waited for.
 */
export const EMBEDDED_REDIS_START_MS = 30 * SECOND_MS;

/** How often start-up asks the embedded redis-server (or a left-over one) whether it answers yet. */
export const EMBEDDED_REDIS_POLL_MS = 50;

/**
 * One PING of the embedded redis-server's socket: a live server answers in microseconds, so one
 * that stays silent this long is stopped or hung (SIGSTOP), not busy.
 */
export const EMBEDDED_REDIS_PROBE_TIMEOUT_MS = SECOND_MS;

/** The lines of redis-server's own output kept for an error message: enough to show why it stopped. */
export const EMBEDDED_REDIS_OUTPUT_LINES = 20;

// --- Dashboard under load and abuse ----------------------------------------------------------

/** Live streams one dashboard session (or the bearer token) may hold: a person with a few tabs; more is a script or a leak. */
export const LIVE_STREAMS_PER_SESSION = 4;

/** Live streams a process holds at once: each keeps a socket and gets every update; a process serves a few operators. */
export const LIVE_STREAMS_TOTAL = 64;

/**
 * Output a live stream may still have waiting for its client when the next update is due: a few
 * whole updates (the runner table of a big installation is tens of KiB). A client that falls this
 * far behind has stopped reading and is dropped; the kernel's socket buffers (megabytes) already
 * hold what it did not take. A stream holds at most this plus one update.
 */
export const LIVE_STREAM_MAX_BUFFERED_BYTES = 1024 * 1024;

/** Failed dashboard logins one client address may make per window before it must wait (429): room for typos, none for guessing. */
export const LOGIN_FAILURES_PER_WINDOW = 10;
export const LOGIN_FAILURE_WINDOW_MS = MINUTE_MS;

/** Client addresses whose failed logins are remembered at once; past it the longest-known go first, so a flood of addresses costs bounded memory. */
export const LOGIN_THROTTLE_MAX_ADDRESSES = 10_000;

/** Largest login form the dashboard reads: a token and a path to go on to. */
export const LOGIN_BODY_MAX_BYTES = 8 * 1024;

// --- Setup page ---------------------------------------------------------------------------------

/** Random bytes of a generated setup token: 192 bits, out of reach of guessing over HTTP. */
export const SETUP_TOKEN_BYTES = 24;

/** Largest body the setup page reads: an App id, a 4096-bit PEM (about 3.3 KiB) and a secret, form-encoded. */
export const SETUP_BODY_MAX_BYTES = 64 * 1024;

/** The manifest conversion is one small GitHub call; a GitHub that does not answer fails the page, not the process. */
export const SETUP_GITHUB_TIMEOUT_MS = 30 * SECOND_MS;

// --- Warm pools ---------------------------------------------------------------------------------

/**
 * An adaptive pool keeps enough idle runners that the jobs arriving during one runner boot find
 * one this often (a Poisson quantile of the expected arrivals): the burst margin. 0.95 keeps a
 * 0.4 jobs/s pool with a 4 s boot at 4 warm runners, not 2, without paying for the rare tail.
 */
export const WARM_BURST_QUANTILE = 0.95;

/** A pool's boot time before any runner of it was seen online: a cold official runner's order of magnitude. */
export const WARM_DEFAULT_BOOT_SECONDS = 10;

/** Boot times kept per pool; the forecast uses their median, so one slow pull does not set it. */
export const WARM_BOOT_SAMPLES = 20;

/**
 * Arrivals kept per pool for the recent rate (the newest ones; a forecast window holding more
 * sees this many, a rate far above what any pool's runners could keep warm for anyway).
 */
export const WARM_ARRIVALS_KEPT = 5000;

/** Earlier weeks whose same hour of the week the forecast averages; hourly counts are kept this long. */
export const WARM_HISTORY_WEEKS = 4;

/**
 * The forecast looks this far ahead for the hour of the week, so a pool warms up just before the
 * hour whose earlier weeks were busy rather than after its first jobs waited.
 */
export const WARM_LOOKAHEAD_MS = 5 * MINUTE_MS;

/**
 * The short window of an adaptive pool's recent rate: besides its forecastWindow, the arrivals of
 * the last minute count, so a pool that wakes from a lull is warm after its first jobs instead of
 * after a forecastWindow of them (a ramp of 0.4 jobs a second is 24 jobs in this minute, but the
 * same jobs spread over a 5-minute window read as 0.08 a second).
 */
export const WARM_SHORT_WINDOW_MS = MINUTE_MS;
