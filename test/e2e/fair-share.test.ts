import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor, type SimJob } from "../sim/github-simulator.js";
import { runCli } from "./support/cli.js";
import { startStack, stubPool, type Stack } from "./support/stack.js";

const TOKEN = "e2e-admin-token-fair-0123456789abcdef";
const POOL = "shared";
const LABELS = ["self-hosted", "linux"];
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    pools: [stubPool({ name: POOL, maxRunners: 4, perRepository: { maxRunners: 3 } })],
    env: { ADMIN_TOKEN: TOKEN },
  });
});

afterAll(async () => {
  await stack?.stop();
});

interface Share {
  repository: string;
  running: number;
  waiting: number;
  parked: number;
}

async function shares(): Promise<Share[]> {
  const reply = await fetch(`${stack.app.url}/admin/pools/${POOL}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const body = (await reply.json()) as { fairShare?: { maxRunnersPerRepository: number; repositories: Share[] } };
  return body.fairShare?.repositories ?? [];
}

const startIndex = (job: SimJob) => job.startIndex ?? Infinity;

describe("fair share inside a pool", () => {
  it("starts a second repository's jobs before the first repository's fifth, with repository-level runners", async () => {
    // 12 jobs of one repository of an organization, then 2 of another: org-level runners would
    // take app-a's oldest jobs first, whichever repository they were made for. app-a's jobs run
    // long enough that its first three are still busy when app-b's webhooks arrive, however slowly
    // the 14 deliveries go on a loaded machine (the share is about a pool at its ceiling).
    const first: SimJob[] = [];
    for (let i = 0; i < 12; i++) {
      first.push(
        await stack.sim.queueJob({
          owner: "acme",
          repo: "app-a",
          labels: LABELS,
          behavior: { kind: "run", seconds: 8 },
        }),
      );
    }
    const second = [
      await stack.sim.queueJob({ owner: "acme", repo: "app-b", labels: LABELS, behavior: { kind: "run", seconds: 3 } }),
      await stack.sim.queueJob({ owner: "acme", repo: "app-b", labels: LABELS, behavior: { kind: "run", seconds: 3 } }),
    ];
    let mostOfFirst = 0;
    let mostInPool = 0;
    let orgRunners = 0;
    let shownAtCeiling = false;
    await waitFor(
      async () => {
        const runners = stack.sim.runners();
        orgRunners += runners.filter((runner) => runner.scope.kind === "org").length;
        const ofFirst = runners.filter((runner) => runner.scope.kind === "repo" && runner.scope.repo === "app-a");
        mostOfFirst = Math.max(mostOfFirst, ofFirst.length);
        mostInPool = Math.max(mostInPool, runners.length);
        const shown = await shares();
        const a = shown.find((share) => share.repository === "acme/app-a");
        if (a && a.running === 3 && a.waiting > 0) shownAtCeiling = true;
        return [...first, ...second].every((job) => stack.sim.getJob(job.id)?.conclusion === "success");
      },
      { timeoutMs: 180_000, intervalMs: 250, what: "all 14 jobs to be served" },
    );
    const jobs = (list: SimJob[]) => list.map((job) => stack.sim.getJob(job.id) as SimJob);
    const firstStarts = jobs(first)
      .map(startIndex)
      .sort((a, b) => a - b);
    const fifthOfFirst = firstStarts[4] ?? 0;
    for (const job of jobs(second)) expect(startIndex(job)).toBeLessThan(fifthOfFirst);
    expect(orgRunners).toBe(0);
    expect(mostOfFirst).toBeLessThanOrEqual(3);
    expect(mostInPool).toBeLessThanOrEqual(4);
    expect(shownAtCeiling).toBe(true);
    // Every runner was registered at its job's repository and took a job of it.
    for (const job of jobs([...first, ...second])) expect(job.runnerName).toMatch(new RegExp(`^${POOL}-`));

    const shown = await runCli(["pools", "ls"], { RUNNERHUB_URL: stack.app.url, ADMIN_TOKEN: TOKEN });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`${POOL} per repository (at most 3 runners each`);
  });
});
