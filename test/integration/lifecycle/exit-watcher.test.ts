import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createContainerEngine } from "../../../src/docker/engine.js";
import { LABELS } from "../../../src/docker/labels.js";
import { runnerContainerSpec } from "../../../src/docker/runner-spec.js";
import { buildStubImage, STUB_IMAGE_TAG } from "../../sim/stub-image.js";
import { DockerEngine } from "../../support/docker-engine.js";
import { watchRunnerExits, type ExitWatcher } from "../../../src/lifecycle/exit-watcher.js";
import { KEPT_LOG_BYTES } from "../../../src/tunables.js";
import { sampleRunnerUsage } from "../../../src/lifecycle/usage-sampler.js";
import { oomRerunJobId } from "../../../src/queue/jobs.js";
import type { RunnerRecord } from "../../../src/state/runner-store.js";
import { waitFor } from "../../sim/github-simulator.js";
import {
  GITHUB_API,
  serviceContext,
  testPool,
  type ServiceContext,
  runnerRecord,
  TEST_DOCKER_TIMEOUT_MS,
} from "../support/context.js";

let ctx: ServiceContext;
let watcher: ExitWatcher | undefined;

beforeAll(async () => {
  ctx = await serviceContext();
  nock.disableNetConnect();
  nock.enableNetConnect((host) => host.startsWith("127.0.0.1") || host.startsWith("localhost"));
});

afterEach(async () => {
  await watcher?.stop();
  watcher = undefined;
  nock.cleanAll();
});

afterAll(async () => {
  nock.enableNetConnect();
  await ctx.close();
});

function startWatcher(engine = ctx.engine): ExitWatcher {
  watcher = watchRunnerExits({
    engine,
    runners: ctx.runners,
    slots: ctx.slots.forEngine({ name: engine.name, capacity: undefined }),
    github: ctx.newGitHub(),
    feed: ctx.feed,
    metrics: ctx.metrics,
    pools: ctx.poolsOf(() => [
      testPool({ oomRetryPool: "linux-big" }),
      testPool({ name: "linux-big", labels: ["self-hosted", "linux", "big"], resources: { memory: "256m" } }),
    ]),
    oomReruns: ctx.oomReruns,
    crashLoops: ctx.crashLoops,
    log: ctx.log,
    now: () => Date.now(),
    reconnectDelayMs: () => 100,
  });
  return watcher;
}

let seq = 0;
/** A runner as the provisioner leaves it: a record plus a started, labeled container. */
async function startRunner(
  command: string[],
  state: RunnerRecord["state"] = "starting",
  registrationEnv: Record<string, string> = {},
) {
  const name = `linux-exit${process.pid}-${++seq}`;
  const runnerId = 700 + seq;
  const pool = testPool({ command });
  const containerId = await ctx.engine.startContainer(
    runnerContainerSpec({
      name,
      pool,
      runnerId,
      githubJobId: 9000 + seq,
      owner: "acme",
      installationId: 7,
      registrationEnv,
    }),
  );
  await ctx.runners.put(
    runnerRecord(name, {
      engine: ctx.engine.name,
      githubJobId: 9000 + seq,
      runnerId,
      containerId,
      state,
      busyJobId: state === "busy" ? 9000 + seq : undefined,
    }),
  );
  return { name, runnerId, containerId };
}

function githubDelete(runnerId: number, status = 204) {
  return nock(GITHUB_API)
    .post("/app/installations/7/access_tokens")
    .reply(201, { token: "ghs_t", expires_at: new Date(Date.now() + 3600_000).toISOString() })
    .delete(`/orgs/acme/actions/runners/${runnerId}`)
    .reply(status);
}

async function containerGone(containerId: string): Promise<boolean> {
  return ctx.docker
    .getContainer(containerId)
    .inspect()
    .then(
      () => false,
      (error: { statusCode?: number }) => error.statusCode === 404,
    );
}

/** The runner's entries in the dashboard's timeline, once the exit watcher wrote its last one. */
function timelineOf(runnerName: string) {
  return waitFor(
    async () => {
      const entries = (await ctx.feed.recent(50)).filter((entry) => entry.runnerName === runnerName);
      return entries.length > 0 && entries;
    },
    { timeoutMs: 5_000, what: `a timeline entry for ${runnerName}` },
  );
}

describe("runner exit watcher (real Docker events)", () => {
  it("cleans a runner killed with docker kill: container removed, registration deleted, reason kept", async () => {
    await startWatcher().ready;
    const runner = await startRunner(["sleep", "300"]);
    const github = githubDelete(runner.runnerId);

    await ctx.docker.getContainer(runner.containerId).kill();

    await waitFor(() => containerGone(runner.containerId), {
      timeoutMs: 15_000,
      what: "the killed container to be removed",
    });
    const exit = await waitFor(() => ctx.runners.exitOf(runner.name), { timeoutMs: 5_000, what: "the exit record" });
    expect(exit).toMatchObject({ reason: "crashed", exitCode: 137, oomKilled: false });
    expect(await ctx.runners.get(runner.name)).toBeUndefined();
    await waitFor(() => github.isDone(), { timeoutMs: 5_000, what: "the registration to be deleted" });
    expect(await timelineOf(runner.name)).toMatchObject([{ kind: "crashed", pool: "linux", reason: "crashed" }]);
  });

  it.each([
    { state: "busy", title: "removes a runner that finished its job without calling GitHub" },
    {
      state: "starting",
      title: "calls GitHub for no runner that exited 0, even before its in_progress webhook arrived",
    },
  ] as const)("$title", async ({ state }) => {
    await startWatcher().ready;
    const runner = await startRunner(["true"], state);
    const unexpected = nock(GITHUB_API).post(/.*/).reply(500).delete(/.*/).reply(500);

    await waitFor(() => containerGone(runner.containerId), {
      timeoutMs: 15_000,
      what: "the finished container to be removed",
    });
    // The record is retired just after the container goes.
    const exit = await waitFor(() => ctx.runners.exitOf(runner.name), { timeoutMs: 5_000, what: "the exit record" });
    expect(exit).toMatchObject({ reason: "completed", exitCode: 0 });
    expect(unexpected.pendingMocks()).toHaveLength(2);
  });

  it("cleans, on start, runners that exited while nobody watched", async () => {
    const runner = await startRunner(["sh", "-c", "exit 3"]);
    await waitFor(async () => !(await ctx.engine.isRunning(runner.containerId)), {
      timeoutMs: 10_000,
      what: "the runner to exit",
    });
    const github = githubDelete(runner.runnerId, 404);

    await startWatcher().ready;

    expect(await containerGone(runner.containerId)).toBe(true);
    expect(await ctx.runners.exitOf(runner.name)).toMatchObject({ reason: "crashed", exitCode: 3 });
    expect(github.isDone()).toBe(true);
  });

  it("never removes a running container, even when asked to clean it (a stale list)", async () => {
    const watching = startWatcher();
    await watching.ready;
    const runner = await startRunner(["sleep", "300"], "busy");
    const unexpected = nock(GITHUB_API).post(/.*/).reply(500).delete(/.*/).reply(500);

    await watching.cleanUp(runner.containerId, { [LABELS.runnerName]: runner.name, [LABELS.pool]: "linux" });

    expect(await ctx.engine.isRunning(runner.containerId)).toBe(true);
    expect(await ctx.runners.get(runner.name)).toMatchObject({ state: "busy" });
    expect(unexpected.pendingMocks()).toHaveLength(2);
  });

  it("frees the slot and forgets the runner of a container removed by hand", async () => {
    await startWatcher().ready;
    const runner = await startRunner(["sleep", "300"], "busy");
    const pool = { name: "linux", maxRunners: 5 };
    await ctx.engineSlots.reserve(pool, runner.name);
    await ctx.engineSlots.confirm(pool, runner.name);
    githubDelete(runner.runnerId);

    await ctx.docker.getContainer(runner.containerId).remove({ force: true });

    await waitFor(() => ctx.runners.exitOf(runner.name), { timeoutMs: 15_000, what: "the runner to be forgotten" });
    expect(await ctx.runners.get(runner.name)).toBeUndefined();
    expect(await ctx.slots.confirmedHolders("pool", "linux")).not.toContain(runner.name);
  });

  it("counts a runner's time without a job when it ends without one, and none for one that ran a job", async () => {
    await startWatcher().ready;
    const idleSeconds = async () =>
      (await ctx.metrics.idleRunnerSeconds.get()).values.find((value) => value.labels.pool === "linux")?.value ?? 0;
    const before = await idleSeconds();

    // Exits 0 by itself: it ran a job whose in_progress has not come, so how long it waited is unknown.
    const done = await startRunner(["sleep", "1"]);
    await ctx.runners.update(done.name, { startedAt: Date.now() - 60_000 });
    await waitFor(() => ctx.runners.exitOf(done.name), { timeoutMs: 15_000, what: "the finished runner's exit" });
    expect(await idleSeconds()).toBe(before);

    // Retired idle after 20 s up without a job.
    const idle = await startRunner(["sleep", "300"], "idle");
    await ctx.runners.update(idle.name, { startedAt: Date.now() - 20_000, retiring: "idle-timeout" });
    githubDelete(idle.runnerId);
    await ctx.docker.getContainer(idle.containerId).kill();
    await waitFor(() => ctx.runners.exitOf(idle.name), { timeoutMs: 15_000, what: "the retired runner's exit" });
    const counted = (await idleSeconds()) - before;
    expect(counted).toBeGreaterThanOrEqual(20);
    expect(counted).toBeLessThan(40);
  });

  it("records an OOM kill", async () => {
    await startWatcher().ready;
    // 64 MiB limit from the test pool; the shell grows a string until the kernel kills it.
    const runner = await startRunner(["sh", "-c", 'x=a; while true; do x="$x$x"; done']);
    githubDelete(runner.runnerId);
    const exit = await waitFor(() => ctx.runners.exitOf(runner.name), {
      timeoutMs: 30_000,
      what: "the OOM exit record",
    });
    expect(exit).toMatchObject({ reason: "oom-killed", oomKilled: true });
    // Killed at the limit: the peak is the whole 64 MiB, whatever the last reading was.
    expect(exit.usage?.peakMemoryBytes).toBe(64 * 1024 * 1024);
    expect(await containerGone(runner.containerId)).toBe(true);
    expect(await timelineOf(runner.name)).toMatchObject([{ kind: "oom-killed", runnerName: runner.name }]);
  });

  it("queues one re-run on the oomRetryPool for a job that OOM-killed its runner, and not a second", async () => {
    await startWatcher().ready;
    const busyJob = {
      runId: 77_000 + seq,
      name: "build",
      owner: "acme",
      repo: "app",
      labels: ["self-hosted", "linux"],
    };
    const grow = ["sh", "-c", 'x=a; while true; do x="$x$x"; done'];
    const first = await startRunner(grow, "busy");
    await ctx.runners.update(first.name, { busyJob });
    githubDelete(first.runnerId, 422);
    const exit = await waitFor(() => ctx.runners.exitOf(first.name), {
      timeoutMs: 30_000,
      what: "the OOM exit record",
    });
    expect(exit).toMatchObject({ reason: "oom-killed", rerun: { pool: "linux-big" } });
    const queued = await ctx.queues.oomRerun.getJob(oomRerunJobId(exit.busyJobId ?? 0));
    expect(queued?.data).toMatchObject({
      fromPool: "linux",
      toPool: "linux-big",
      runId: busyJob.runId,
      jobName: "build",
    });

    // The re-run OOM-kills its runner too (say, in a pool still too small): no second re-run.
    const second = await startRunner(grow, "busy");
    await ctx.runners.update(second.name, { busyJob });
    githubDelete(second.runnerId, 422);
    const again = await waitFor(() => ctx.runners.exitOf(second.name), { timeoutMs: 30_000, what: "the second exit" });
    expect(again.reason).toBe("oom-killed");
    expect(again.rerun).toBeUndefined();
    expect(await ctx.queues.oomRerun.getJob(oomRerunJobId(again.busyJobId ?? 0))).toBeUndefined();
  });

  it("keeps a crashed runner's last log lines, stdout and stderr, with its JIT config and tokens masked", async () => {
    await startWatcher().ready;
    const jitConfig = Buffer.from(JSON.stringify({ ".runner": "x".repeat(300), key: "SeCrEt123" })).toString("base64");
    const script = [
      'echo "config: $ACTIONS_RUNNER_INPUT_JITCONFIG"',
      "echo 'token ghs_16C7e42F292c6912E7710c838347Ae178B4a' >&2",
      "echo 'cannot connect to the broker: giving up' >&2",
      "exit 7",
    ].join("; ");
    const runner = await startRunner(["sh", "-c", script], "starting", { ACTIONS_RUNNER_INPUT_JITCONFIG: jitConfig });
    githubDelete(runner.runnerId);

    const exit = await waitFor(() => ctx.runners.exitOf(runner.name), { timeoutMs: 15_000, what: "the exit record" });
    expect(exit).toMatchObject({ reason: "crashed", exitCode: 7 });
    // stdout and stderr are copied by Docker independently: their relative order is not exact.
    const logs = (await ctx.runners.logsOf(runner.name)) ?? "";
    expect(logs).toContain("cannot connect to the broker: giving up\n");
    expect(logs).toContain("config: ***\n");
    expect(logs).toContain("token ***\n");
    expect(logs).not.toContain(jitConfig);
    expect(logs).not.toContain("ghs_");
  });

  it("keeps only the last 64 KiB of a long output, from a whole line", async () => {
    await startWatcher().ready;
    const script =
      'i=0; while [ $i -lt 1500 ]; do echo "filler line $i ................................................................"; i=$((i+1)); done; echo "the end"; exit 1';
    const runner = await startRunner(["sh", "-c", script]);
    githubDelete(runner.runnerId);

    await waitFor(() => ctx.runners.exitOf(runner.name), { timeoutMs: 15_000, what: "the exit record" });
    const logs = (await ctx.runners.logsOf(runner.name)) ?? "";
    expect(
      logs.endsWith("filler line 1499 ................................................................\nthe end\n"),
    ).toBe(true);
    expect(logs.startsWith("filler line ")).toBe(true);
    expect(Buffer.byteLength(logs)).toBeLessThanOrEqual(KEPT_LOG_BYTES.abnormal);
    expect(Buffer.byteLength(logs)).toBeGreaterThan(KEPT_LOG_BYTES.abnormal - 200);
  });

  it("samples a runner's resource use while it runs and keeps it, per job, in the pool's histograms", async () => {
    await startWatcher().ready;
    const histogramCount = async (name: string) =>
      (await ctx.metrics.registry.getSingleMetric(name)?.get())?.values.find(
        (value) => (value as { metricName?: string }).metricName === `${name}_count` && value.labels.pool === "linux",
      )?.value ?? 0;
    const before = await histogramCount("runnerhub_runner_peak_memory_bytes");
    // About 8 MiB held in the shell, a little CPU spent building it, then idle until killed.
    const runner = await startRunner(
      ["sh", "-c", 'x=aaaaaaaa; i=0; while [ $i -lt 20 ]; do x="$x$x"; i=$((i+1)); done; echo ready; sleep 300'],
      "busy",
    );
    await waitFor(async () => (await ctx.engine.logTail(runner.containerId, 1))?.includes("ready"), {
      timeoutMs: 15_000,
      what: "the runner to hold its memory",
    });
    const sampler = sampleRunnerUsage({
      engine: ctx.engine,
      runners: ctx.runners,
      metrics: ctx.metrics,
      log: ctx.log,
      intervalMs: 3_600_000,
    });
    try {
      await sampler.sampleOnce();
    } finally {
      await sampler.stop();
    }
    const sampled = (await ctx.runners.get(runner.name))?.usage;
    expect(sampled?.peakMemoryBytes).toBeGreaterThan(8 * 1024 * 1024);
    expect(sampled?.peakMemoryBytes).toBeLessThanOrEqual(64 * 1024 * 1024);
    expect(sampled?.cpuSeconds).toBeGreaterThan(0);

    githubDelete(runner.runnerId);
    await ctx.docker.getContainer(runner.containerId).kill();
    const exit = await waitFor(() => ctx.runners.exitOf(runner.name), { timeoutMs: 15_000, what: "the exit record" });
    expect(exit.usage).toEqual(sampled);
    expect(await histogramCount("runnerhub_runner_peak_memory_bytes")).toBe(before + 1);
    expect(await histogramCount("runnerhub_runner_cpu_seconds")).toBeGreaterThan(0);
  });
});

describe("runner exit watcher across a Docker engine restart", () => {
  it("reconnects and cleans a runner that died while the engine was down", async () => {
    const engineProcess = await DockerEngine.start();
    const docker = engineProcess.client();
    try {
      await buildStubImage(docker, STUB_IMAGE_TAG);
      const engine = createContainerEngine("restarting", docker, { callTimeoutMs: TEST_DOCKER_TIMEOUT_MS });
      const restartWatcher = startWatcher(engine);
      try {
        await restartWatcher.ready;
        const name = `linux-restart${process.pid}`;
        const pool = testPool({ command: ["sh", "-c", "trap 'exit 143' TERM; sleep 300 & wait"] });
        const containerId = await engine.startContainer(
          runnerContainerSpec({
            name,
            pool,
            runnerId: undefined,
            githubJobId: 1,
            owner: "acme",
            installationId: 7,
            registrationEnv: {},
          }),
        );
        await ctx.runners.put(runnerRecord(name, { engine: engine.name, containerId, state: "busy", busyJobId: 1 }));

        // dockerd kills its containers on shutdown: the runner dies while nobody can watch.
        await engineProcess.stop();
        await engineProcess.restart();

        const exit = await waitFor(() => ctx.runners.exitOf(name), {
          timeoutMs: 30_000,
          what: "the runner to be cleaned after the restart",
        });
        expect(exit.reason).toBe("crashed");
        const left = await docker.listContainers({ all: true, filters: { name: [name] } });
        expect(left).toHaveLength(0);
      } finally {
        await restartWatcher.stop();
      }
    } finally {
      await engineProcess.destroy();
    }
  });
});
