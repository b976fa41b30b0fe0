import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LABELS } from "../../src/docker/labels.js";
import { waitFor } from "../sim/github-simulator.js";
import { startStack, stubPool, type Stack } from "./support/stack.js";
import { runCli } from "./support/cli.js";

const TOKEN = "e2e-admin-token-0123456789abcdef";

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ pools: [stubPool({ name: "small", maxRunners: 4 })], env: { ADMIN_TOKEN: TOKEN } });
});

afterAll(async () => {
  await stack?.stop();
});

const cli = (args: string[]) => runCli(args, { RUNNERHUB_URL: stack.app.url, ADMIN_TOKEN: TOKEN });

describe("limits changed at run time, through the running app", () => {
  it("refuses the admin API without the token", async () => {
    expect((await fetch(`${stack.app.url}/admin/pools`)).status).toBe(401);
    expect((await fetch(`${stack.app.url}/admin/queues`)).status).toBe(401);
    const withToken = await fetch(`${stack.app.url}/admin/queues`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(withToken.status).toBe(200);
    expect(withToken.headers.get("content-type")).toMatch(/html/);
  });

  it("obeys a maxRunners lowered with the CLI from the next job on", async () => {
    const set = await cli(["pools", "set", "small", "--max", "1"]);
    expect(set.code).toBe(0);
    const shown = await cli(["pools", "ls", "--json"]);
    expect(JSON.parse(shown.stdout)).toMatchObject({ pools: [{ name: "small", limits: { maxRunners: 1 } }] });

    const jobs = await Promise.all(
      [1, 2, 3].map(() =>
        stack.sim.queueJob({
          owner: "acme",
          repo: "app",
          labels: ["self-hosted", "linux"],
          behavior: { kind: "hang" },
        }),
      ),
    );
    const taken = await waitFor(
      () => jobs.filter((job) => stack.sim.getJob(job.id)?.status === "in_progress").length === 1 && jobs,
      {
        timeoutMs: 20_000,
        what: "one job to be taken",
      },
    );
    // The other two wait for a slot: visible in the admin API as waiting demand.
    await waitFor(
      async () => {
        const pools = await fetch(`${stack.app.url}/admin/pools`, { headers: { authorization: `Bearer ${TOKEN}` } });
        const body = (await pools.json()) as { pools: { counts: { waiting: number } }[] };
        return body.pools[0]?.counts.waiting === 2;
      },
      { timeoutMs: 10_000, what: "two jobs shown waiting for a slot" },
    );
    expect(await stack.containers({ [LABELS.pool]: "small" })).toHaveLength(1);

    // Raising the limit lets the waiting demand start at once, without waiting for a poll.
    expect((await cli(["pools", "set", "small", "--max", "3"])).code).toBe(0);
    await waitFor(() => taken.every((job) => stack.sim.getJob(job.id)?.status === "in_progress"), {
      timeoutMs: 20_000,
      what: "all three jobs to be taken",
    });
    expect(await stack.containers({ [LABELS.pool]: "small" })).toHaveLength(3);

    const runners = await cli(["runners", "ls"]);
    expect(runners.code).toBe(0);
    expect(runners.stdout.split("\n").filter((line) => line.startsWith("small-"))).toHaveLength(3);
  });
});
