import type {
  EngineView,
  ErrorBody,
  JobView,
  PoolView,
  RunnerDetail,
  RunnerView,
  UnmatchedJobView,
} from "../admin/schemas.js";
import { engineCapacity, formatAge, formatBytes } from "../admin/format.js";
import type { InstallationView } from "../admin/api/installations.js";

/** Everything the CLI prints is built here, without I/O, so it is unit-tested. */

/** Left-aligned columns two spaces apart; no trailing blanks. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: readonly string[]) =>
    headers
      .map((_header, column) =>
        column === headers.length - 1 ? (cells[column] ?? "") : (cells[column] ?? "").padEnd(widths[column] ?? 0),
      )
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n") + "\n";
}

const OVERRIDDEN = "*";

export function formatPools(pools: readonly PoolView[]): string {
  if (pools.length === 0) return "no pools\n";
  const mark = (value: number, overridden: boolean) => `${value}${overridden ? OVERRIDDEN : ""}`;
  const rows = pools.map((pool) => [
    pool.name,
    mark(pool.limits.maxRunners, pool.overrides.maxRunners !== undefined),
    mark(pool.limits.minIdle, pool.overrides.minIdle !== undefined),
    String(pool.counts.starting),
    String(pool.counts.idle),
    String(pool.counts.busy),
    String(pool.counts.waiting),
    pool.labels.join(","),
  ]);
  const table = formatTable(["NAME", "MAX", "MIN-IDLE", "STARTING", "IDLE", "BUSY", "WAITING", "LABELS"], rows);
  const anyOverride = pools.some((pool) => Object.keys(pool.overrides).length > 0);
  const note = anyOverride ? `${OVERRIDDEN} set at run time (runnerhub pools set), not from the pools file\n` : "";
  return `${table}${note}${poolNotes(pools)}${pools.map(formatFairShare).join("")}`;
}

/** Lines under the pools table: where each pool's jobs overflow to, and the fix for a crash loop whose cause is known. */
function poolNotes(pools: readonly PoolView[]): string {
  return pools
    .flatMap((pool) => [
      ...(pool.overflow ? [`${pool.name}: jobs it cannot start now overflow to ${pool.overflow}\n`] : []),
      ...(pool.crashLoop?.fix ? [`${pool.name}: ${pool.crashLoop.lastReason}; fix: ${pool.crashLoop.fix}\n`] : []),
    ])
    .join("");
}

/** `runnerhub engines ls`: health, runners, labels, drain state, reserved and free memory and CPUs. */
export function formatEngines(engines: readonly EngineView[]): string {
  if (engines.length === 0) return "no engines\n";
  const rows = engines.map((engine) => [
    engine.name,
    engine.draining ? `${engine.health}, draining` : engine.health,
    `${engine.starting}/${engine.idle}/${engine.busy}`,
    engineCapacity(engine),
    engine.memory ? `${formatBytes(engine.memory.reserved)}/${formatBytes(engine.memory.total)}` : "-",
    engine.cpus ? `${engine.cpus.reserved}/${engine.cpus.total}` : "-",
    engine.labels.join(",") || "-",
  ]);
  return formatTable(
    ["NAME", "HEALTH", "STARTING/IDLE/BUSY", "CAPACITY", "MEMORY RESERVED", "CPUS RESERVED", "LABELS"],
    rows,
  );
}

/** A fair-share pool's repositories under the pools table; nothing for other pools. */
function formatFairShare(pool: PoolView): string {
  const share = pool.fairShare;
  if (!share) return "";
  const heading = `\n${pool.name} per repository (at most ${share.maxRunnersPerRepository} runners each; waiting jobs start round-robin):\n`;
  if (share.repositories.length === 0) return `${heading}no repository holds a runner or waits\n`;
  const rows = share.repositories.map((entry) => [
    entry.repository,
    String(entry.running),
    String(entry.waiting),
    String(entry.parked),
  ]);
  return `${heading}${formatTable(["REPOSITORY", "RUNNING", "WAITING", "PARKED"], rows)}`;
}

export function formatRunners(runners: readonly RunnerView[], now: number): string {
  if (runners.length === 0) return "no runners\n";
  const rows = runners.map((runner) => [
    runner.name,
    runner.pool,
    runner.retiring ? `${runner.state} (retiring: ${runner.retiring})` : runner.state,
    String(runner.busyJobId ?? runner.jobId),
    runner.engine,
    formatAge(now - runner.createdAt),
  ]);
  return formatTable(["NAME", "POOL", "STATE", "JOB", "ENGINE", "AGE"], rows);
}

/** `runnerhub runners show`: one field a line, then the kept log lines. */
export function formatRunnerDetail(runner: RunnerDetail, now: number): string {
  const exit = runner.exit;
  const state = exit
    ? `exited: ${exit.reason}${exit.exitCode === null ? "" : `, exit code ${exit.exitCode}`}${exit.oomKilled ? ", OOM-killed" : ""}`
    : runner.retiring
      ? `${runner.state} (retiring: ${runner.retiring})`
      : runner.state;
  const job =
    runner.busyJobId === null
      ? `${runner.jobId} (made for it; took none)`
      : runner.busyJobId === runner.jobId
        ? String(runner.busyJobId)
        : `${runner.busyJobId} (made for ${runner.jobId})`;
  const fields: [string, string][] = [
    ["name", runner.name],
    ["pool", runner.pool],
    ["state", state],
    ["job", job],
    ["engine", runner.engine],
    ["runner id", runner.runnerId === null ? "-" : String(runner.runnerId)],
    ["created", `${formatAge(now - runner.createdAt)} ago`],
  ];
  if (exit) fields.push(["exited", `${formatAge(now - exit.at)} ago`]);
  if (runner.usage) {
    fields.push(["peak memory", formatBytes(runner.usage.peakMemoryBytes)]);
    fields.push(["cpu time", `${runner.usage.cpuSeconds.toFixed(1)} s`]);
  }
  if (runner.rerun) fields.push(["re-run", `on pool ${runner.rerun.pool}, ${formatAge(now - runner.rerun.at)} ago`]);
  const width = Math.max(...fields.map(([name]) => name.length)) + 1;
  const head = fields.map(([name, value]) => `${`${name}:`.padEnd(width)}  ${value}\n`).join("");
  if (runner.logs === null) return exit ? head : `${head}(live: runnerhub runners logs ${runner.name})\n`;
  const logs = runner.logs === "" ? "(no output)\n" : runner.logs.endsWith("\n") ? runner.logs : `${runner.logs}\n`;
  return `${head}--- last log lines ---\n${logs}`;
}

/** Queued jobs no pool serves, newest first. */
export function formatUnmatched(jobs: readonly UnmatchedJobView[]): string {
  if (jobs.length === 0) return "no unmatched jobs\n";
  return formatTable(
    ["JOB", "REPOSITORY", "LABELS", "REASON", "NEAREST POOL", "LACKS", "QUEUED"],
    jobs.map((job) => [
      String(job.jobId),
      job.repository,
      job.labels.join(",") || "-",
      job.reason,
      job.nearestPool ?? "-",
      job.missing.join(",") || "-",
      new Date(job.at).toISOString(),
    ]),
  );
}

export function formatQueueCounts(queue: string, counts: Readonly<Record<string, number>>): string {
  return (
    `queue ${queue}\n` +
    formatTable(
      ["STATE", "ENTRIES"],
      Object.entries(counts).map(([state, count]) => [state, String(count)]),
    )
  );
}

/** Each installation's budget (points left of the burst), pause, floor and runners. */
export function formatInstallations(installations: readonly InstallationView[]): string {
  return formatTable(
    ["INSTALLATION", "SCOPES", "POINTS", "PAUSED", "BELOW FLOOR", "STARTING", "IDLE", "BUSY"],
    installations.map((view) => [
      view.installation,
      view.scopes.join(",") || "-",
      `${Math.max(0, view.budget.points)}/${view.budget.burstPoints}`,
      view.budget.pausedForMs > 0 ? `${Math.ceil(view.budget.pausedForMs / 1000)}s` : "-",
      view.budget.belowFloor === null ? "-" : String(view.budget.belowFloor),
      String(view.runners.starting),
      String(view.runners.idle),
      String(view.runners.busy),
    ]),
  );
}

function field(data: Record<string, unknown>, name: string): string {
  const value = data[name];
  return typeof value === "string" || typeof value === "number" ? String(value) : "";
}

export function formatJobs(
  page: { state: string; page: number; pages: number; total: number; jobs: readonly JobView[] },
  now: number,
): string {
  if (page.total === 0) return `no ${page.state} entries\n`;
  const rows = page.jobs.map((job) => {
    const repo = job.data.owner !== undefined ? `${field(job.data, "owner")}/${field(job.data, "repo")}` : "";
    return [
      job.id,
      job.state,
      field(job.data, "pool"),
      repo,
      field(job.data, "githubJobId"),
      String(job.attemptsMade),
      formatAge(now - job.timestamp),
      job.failedReason ?? "",
    ];
  });
  const table = formatTable(["ID", "STATE", "POOL", "REPO", "JOB", "ATTEMPTS", "AGE", "REASON"], rows);
  return `${table}page ${page.page} of ${Math.max(page.pages, 1)} (${page.total} ${page.state} entries)\n`;
}

export function formatDrain(drain: {
  runner: { name: string };
  stop: { reason: string };
  registrationDeleted: boolean;
}): string {
  const registration = drain.registrationDeleted ? "GitHub registration deleted, " : "";
  return `runner ${drain.runner.name} is draining: ${registration}stop queued (${drain.stop.reason})\n`;
}

/** `error: …` plus one indented line per field the server named. */
export function formatError(body: ErrorBody): string {
  const details = (body.details ?? []).map((detail) => `  ${detail.field}: ${detail.message}\n`).join("");
  return `error: ${body.error}\n${details}`;
}
