import { existsSync } from "node:fs";
import type { Server } from "node:http";
import { Worker } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdminHandler } from "../../src/admin/handler.js";
import { createHttpServer, listen } from "../../src/http/server.js";
import { PROVISION_QUEUE, provisionJobId, type ProvisionRequest } from "../../src/queue/jobs.js";
import { waitFor } from "../sim/github-simulator.js";
import {
  adminDeps,
  type ServiceContext,
  provisionRequest,
  serviceContext,
  testPool,
} from "../integration/support/context.js";
import { CLI, runCli } from "./support/cli.js";

const TOKEN = "cli-e2e-admin-token-0123456789";
const ENGINE = "cli-engine";

let ctx: ServiceContext;
let server: Server;
let url: string;

/** The built CLI; the server URL and token come from its environment unless given. */
const cli = (args: string[], env: Record<string, string> = { RUNNERHUB_URL: url, ADMIN_TOKEN: TOKEN }) =>
  runCli(args, env);

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` before the tests`);
  ctx = await serviceContext();
  const handler = await createAdminHandler(
    adminDeps(ctx, {
      adminToken: TOKEN,
      pools: [
        testPool({ name: "linux", maxRunners: 4, warmScope: "acme" }),
        testPool({ name: "gpu", labels: ["self-hosted", "gpu"], maxRunners: 1 }),
      ],
      // No engine: this process is bound to none, as a webhook-only front is.
      engine: undefined,
    }),
  );
  server = createHttpServer([handler], ctx.log);
  url = `http://127.0.0.1:${await listen(server, "127.0.0.1", 0)}`;
  const base = {
    engine: ENGINE,
    installationId: 7,
    scope: { kind: "org", org: "acme" } as const,
    containerId: undefined,
    completedAt: undefined,
  };
  await ctx.runners.put({
    ...base,
    name: "linux-aaa",
    pool: "linux",
    githubJobId: 11,
    runnerId: undefined,
    state: "idle",
    busyJobId: undefined,
    createdAt: Date.now() - 120_000,
  });
  await ctx.runners.put({
    ...base,
    name: "linux-bbb",
    pool: "linux",
    githubJobId: 12,
    runnerId: undefined,
    state: "busy",
    busyJobId: 13,
    createdAt: Date.now(),
  });
  await ctx.runners.put({
    ...base,
    name: "gpu-ccc",
    pool: "gpu",
    githubJobId: 14,
    runnerId: undefined,
    state: "starting",
    busyJobId: undefined,
    createdAt: Date.now(),
  });
});

afterAll(async () => {
  if (server) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
  }
  await ctx?.close();
});

describe("the runnerhub CLI against the admin API", () => {
  it("lists pools as an aligned table", async () => {
    const run = await cli(["pools", "ls"]);
    expect(run).toMatchObject({ code: 0, stderr: "" });
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+MAX\s+MIN-IDLE\s+STARTING\s+IDLE\s+BUSY\s+WAITING\s+LABELS$/);
    expect(lines[1]).toMatch(/^linux\s+4\s+0\s+0\s+1\s+1\s+0\s+self-hosted,linux$/);
    expect(lines[2]).toMatch(/^gpu\s+1\s+0\s+1\s+0\s+0\s+0\s+self-hosted,gpu$/);
    expect(lines[1]?.indexOf("self-hosted")).toBe(lines[2]?.indexOf("self-hosted"));
  });

  it("changes a limit and shows it, as a table and as the API's JSON", async () => {
    const set = await cli(["pools", "set", "linux", "--max", "2", "--url", url, "--token", TOKEN], {});
    expect(set.code).toBe(0);
    expect(set.stdout).toMatch(/^linux\s+2\*\s+0/m);
    expect(set.stdout).toContain("* set at run time");
    expect((await ctx.overrides.all()).linux).toEqual({ maxRunners: 2 });

    const json = await cli(["pools", "ls", "--json"]);
    expect(json.code).toBe(0);
    const body = JSON.parse(json.stdout) as {
      pools: { name: string; limits: { maxRunners: number }; overrides: object }[];
    };
    expect(body.pools[0]).toMatchObject({ name: "linux", limits: { maxRunners: 2 }, overrides: { maxRunners: 2 } });
  });

  it("prints the API's field errors and exits 1", async () => {
    const run = await cli(["pools", "set", "linux", "--min-idle", "5"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe("error: invalid pool change\n  minIdle: must not exceed maxRunners (2)\n");
    const unknown = await cli(["pools", "set", "nope", "--max", "1"]);
    expect(unknown).toMatchObject({ code: 1 });
    expect(unknown.stderr).toMatch(/^error: no pool named "nope"/);
  });

  it("exits 1 on a wrong token and 2 on a usage error", async () => {
    const wrong = await cli(["pools", "ls"], { RUNNERHUB_URL: url, ADMIN_TOKEN: "not-the-admin-token" });
    expect(wrong).toMatchObject({ code: 1, stderr: "error: wrong admin token\n" });
    const usage = await cli(["pools", "set", "linux", "--max", "lots"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--max: expected a whole number from 0, got "lots"');
    expect(usage.stderr).toContain("usage: runnerhub <command> [options]");
  });

  it("lists runners, of one pool too, and drains one (a busy one only with --force)", async () => {
    const all = await cli(["runners", "ls"]);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/^NAME\s+POOL\s+STATE\s+JOB\s+ENGINE\s+AGE$/m);
    expect(all.stdout).toMatch(/^linux-aaa\s+linux\s+idle\s+11\s+cli-engine\s+2m$/m);
    expect(all.stdout).toMatch(/^linux-bbb\s+linux\s+busy\s+13\s+cli-engine\s+\d+s$/m);
    const gpu = await cli(["runners", "ls", "--pool", "gpu"]);
    expect(gpu.stdout.trimEnd().split("\n")).toHaveLength(2);

    const refused = await cli(["runners", "rm", "linux-bbb"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('runner "linux-bbb" is busy on job 13');
    const forced = await cli(["runners", "rm", "linux-bbb", "--force"]);
    expect(forced).toMatchObject({ code: 0, stdout: "runner linux-bbb is draining: stop queued (drained-forced)\n" });
    const stops = await ctx.queues.runnerOps(ENGINE).getJobs(["waiting"]);
    expect(stops.map((job) => job.data)).toContainEqual({ runnerName: "linux-bbb", reason: "drained-forced" });
  });

  it("shows the queue and retries a failed entry", async () => {
    const worker = new Worker<ProvisionRequest>(
      PROVISION_QUEUE,
      async () => {
        throw new Error("no capacity anywhere");
      },
      { connection: ctx.redis, prefix: ctx.prefix },
    );
    try {
      await ctx.queues.provision.add("provision", provisionRequest(301), { jobId: provisionJobId(301), attempts: 1 });
      await waitFor(async () => (await (await ctx.queues.provision.getJob("job-301"))?.getState()) === "failed", {
        timeoutMs: 10_000,
        what: "job-301 failed",
      });
    } finally {
      await worker.close();
    }

    const counts = await cli(["queue", "ls"]);
    expect(counts.code).toBe(0);
    expect(counts.stdout).toMatch(/^queue provision\nSTATE\s+ENTRIES\n/);
    expect(counts.stdout).toMatch(/^failed\s+1$/m);

    const failed = await cli(["queue", "ls", "failed"]);
    expect(failed.code).toBe(0);
    expect(failed.stdout).toMatch(/^job-301\s+failed\s+linux\s+acme\/app\s+301\s+1\s+\d+s\s+no capacity anywhere$/m);
    expect(failed.stdout).toContain("page 1 of 1 (1 failed entries)");

    const retried = await cli(["queue", "retry", "job-301"]);
    expect(retried).toMatchObject({ code: 0, stdout: "entry job-301 is waiting again\n" });
    const again = await cli(["queue", "retry", "job-301"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("only failed entries can be retried");
  });
});
