import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LABELS } from "../../src/docker/labels.js";
import { waitFor } from "../sim/github-simulator.js";
import { runCli } from "./support/cli.js";
import { startStack, stubPool, type Stack } from "./support/stack.js";

const TOKEN = "e2e-admin-token-0123456789abcdef";
const MB = 1024 ** 2;

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    pools: [
      stubPool({
        name: "linux",
        sizes: [{ label: "size-large", resources: { memory: "96m", cpus: 0.5 } }],
      }),
      stubPool({ name: "team", labels: ["self-hosted", "team-a"], runnerGroup: "team-a", groupDefault: true }),
    ],
    runnerGroups: [
      { id: 1, name: "Default" },
      { id: 2, name: "team-a" },
    ],
    env: { ADMIN_TOKEN: TOKEN },
  });
});

afterAll(async () => {
  await stack?.stop();
});

const admin = async (path: string, accept = "application/json") => {
  const response = await fetch(`${stack.app.url}${path}`, {
    headers: { authorization: `Bearer ${TOKEN}`, accept },
  });
  return response.text();
};

describe("job sizes, unmatched jobs and runner groups, through the running app", () => {
  it("gives a size-large job's container the size's limits, and its runner the size's label", async () => {
    const job = await stack.sim.queueJob({
      owner: "acme",
      repo: "app",
      labels: ["self-hosted", "linux", "size-large"],
      behavior: { kind: "run", seconds: 3 },
    });
    // Inspected while it runs: a runner container is removed once it exits.
    const inspected = await waitFor(
      async () => {
        const running = await stack.containers({ [LABELS.pool]: "linux" });
        for (const container of running) {
          const info = await stack.docker
            .getContainer(container.Id)
            .inspect()
            .catch(() => undefined);
          if (info?.State.Running) return info;
        }
        return undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: "the sized runner's container, running" },
    );
    expect(inspected.HostConfig.Memory).toBe(96 * MB);
    expect(inspected.HostConfig.NanoCpus).toBe(0.5e9);
    await waitFor(() => stack.sim.getJob(job.id)?.conclusion === "success", {
      timeoutMs: 60_000,
      what: "the sized job to complete",
    });
    const registered = stack.sim.registrationHistory().map((runner) => runner.labels);
    expect(registered).toContainEqual(["self-hosted", "linux", "x64", "size-large"]);
  }, 90_000);

  it("shows a job no pool matches as unmatched, with its labels and the nearest pool, in the API, metrics, dashboard and CLI", async () => {
    const job = await stack.sim.queueJob({ owner: "acme", repo: "app", labels: ["self-hosted", "linux", "size-xl"] });
    const listed = await waitFor(
      async () => {
        const body = JSON.parse(await admin("/admin/jobs/unmatched")) as { jobs: { jobId: number }[] };
        return body.jobs.find((entry) => entry.jobId === job.id);
      },
      { timeoutMs: 10_000, what: "the unmatched job in the admin API" },
    );
    expect(listed).toMatchObject({
      repository: "acme/app",
      labels: ["self-hosted", "linux", "size-xl"],
      reason: "no-matching-pool",
      nearestPool: "linux",
      missing: ["size-xl"],
    });
    const metrics = await (await fetch(`${stack.app.url}/metrics`)).text();
    expect(metrics).toMatch(/runnerhub_jobs_unmatched_total\{reason="no-matching-pool"\} 1\b/);
    const dashboard = await admin("/admin", "text/html");
    expect(dashboard).toContain(`data-unmatched-job="${job.id}"`);
    expect(dashboard).toContain('data-nearest-pool="linux"');
    const cli = await runCli(["jobs", "unmatched"], { RUNNERHUB_URL: stack.app.url, ADMIN_TOKEN: TOKEN });
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(
      new RegExp(`${job.id}\\s+acme/app\\s+self-hosted,linux,size-xl\\s+no-matching-pool\\s+linux\\s+size-xl`),
    );
    // No runner is made for it, and none would take it.
    expect(stack.sim.getJob(job.id)?.status).toBe("queued");
  }, 60_000);

  it("serves a job with no labels and a runner group from the pool its group identifies", async () => {
    const job = await stack.sim.queueJob({ owner: "acme", repo: "app", labels: [], group: "team-a" });
    // GitHub's shape: the queued webhook names neither labels nor the group.
    const queued = stack.sim
      .deliveries()
      .map((delivery) => JSON.parse(delivery.body) as { action: string; workflow_job: Record<string, unknown> })
      .find((body) => body.action === "queued" && body.workflow_job.id === job.id);
    expect(queued?.workflow_job).toMatchObject({ labels: [], runner_group_id: null, runner_group_name: null });
    await waitFor(() => stack.sim.getJob(job.id)?.conclusion === "success", {
      timeoutMs: 60_000,
      what: "the label-less job to complete",
    });
    expect(stack.sim.getJob(job.id)).toMatchObject({ runnerGroupName: "team-a" });
    expect(stack.sim.getJob(job.id)?.runnerName).toMatch(/team/);
  }, 90_000);

  it("refuses to start a worker when a size fits on no engine, naming the pool and the size", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "runnerhub-e2e-sizes-"));
    const poolsFile = path.join(dir, "pools.yml");
    const huge = { label: "size-huge", resources: { memory: "1024t" } };
    writeFileSync(poolsFile, stringify([stubPool({ name: "linux", sizes: [huge] })]));
    await expect(
      stack.addProcess({ RUNNERHUB_ROLES: "worker", RUNNERHUB_CONFIG: poolsFile, RUNNERHUB_ENGINE_NAME: "e2e-second" }),
      // The process's last log line (JSON, so its quotes are escaped) gives the reason.
    ).rejects.toThrow(
      /size \\?"size-huge\\?" of pool \\?"linux\\?" asks for 1048576g, more than any engine has: .*e2e-second \(/,
    );
  }, 60_000);
});
