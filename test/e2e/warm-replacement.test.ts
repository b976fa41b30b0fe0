import type Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LABELS } from "../../src/docker/labels.js";
import { waitFor } from "../sim/github-simulator.js";
import { queueLinuxJobs, startStack, stubPool, type Stack } from "./support/stack.js";
import { followDockerEvents } from "./support/running-count.js";

/** Long enough that the only reconcile passes are the ones at start: a replacement is the webhook's doing. */
const RECONCILE_INTERVAL = "10m";
const BOOT_SECONDS = 3;

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    pools: [stubPool({ minIdle: 1, warmScope: "acme", env: { STUB_BOOT_SECONDS: String(BOOT_SECONDS) } })],
    env: { RUNNERHUB_RECONCILE_INTERVAL: RECONCILE_INTERVAL },
  });
});

afterAll(async () => {
  await stack?.stop();
});

interface ContainerEvent {
  action: "create" | "start";
  name: string;
  /** Docker's own time of the event, in ms since the epoch */
  at: number;
}

/** Runner containers created and started from now on, with Docker's own times, in order. */
async function followContainers(docker: Dockerode) {
  const events: ContainerEvent[] = [];
  const filters = { event: ["create", "start"], label: [`${LABELS.managed}=true`] };
  const stream = await followDockerEvents(docker, filters, (event) =>
    events.push({
      action: event.Action as ContainerEvent["action"],
      name: event.Actor.Attributes["name"] ?? "",
      at: event.timeNano / 1e6,
    }),
  );
  return { events, stop: () => stream.destroy() };
}

async function scrape(): Promise<string> {
  return (await fetch(`${stack.app.url}/metrics`)).text();
}

function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("a warm runner taken by a job", () => {
  it("is replaced within a second of the in_progress webhook, not at the next reconcile pass", async () => {
    const { sim, docker } = stack;
    const warm = await waitFor(() => sim.runners().find((runner) => runner.online && !runner.busy), {
      timeoutMs: 60_000,
      what: "the warm runner the reconciler's first pass made to be online",
    });
    const containers = await followContainers(docker);
    try {
      const [job] = await queueLinuxJobs(sim, 1, { kind: "run", seconds: 5 });
      if (!job) throw new Error("no job queued");
      const webhook = await waitFor(
        () =>
          sim
            .deliveries()
            .find(
              (delivery) =>
                delivery.action === "in_progress" &&
                delivery.statusCode >= 200 &&
                delivery.statusCode < 300 &&
                (JSON.parse(delivery.body) as { workflow_job: { id: number } }).workflow_job.id === job.id,
            ),
        { timeoutMs: 10_000, what: "the job's in_progress webhook" },
      );
      expect(sim.getJob(job.id)?.runnerName).toBe(warm.name);

      const started = (action: ContainerEvent["action"]) =>
        containers.events.find((event) => event.action === action && event.name !== warm.name);
      const replacement = await waitFor(() => started("start"), {
        timeoutMs: 15_000,
        what: `a replacement container to start (the reconcile interval is ${RECONCILE_INTERVAL})`,
      });
      const createdMs = (started("create")?.at ?? Number.NaN) - webhook.sentAt;
      const startedMs = replacement.at - webhook.sentAt;
      process.stdout.write(
        `warm replacement: created ${Math.round(createdMs)} ms, started ${Math.round(startedMs)} ms after the in_progress webhook\n`,
      );
      // The replacement is runnerhub's part: it asks Docker for the container within a second of the
      // webhook. How long Docker then takes to start it depends on the machine, not on runnerhub.
      expect(createdMs).toBeLessThan(1_000);

      // The taken runner was up (booting, then idle) for at least its boot before the job came.
      const idle = sample(await scrape(), 'runnerhub_pool_idle_runner_seconds_total{pool="linux"}') ?? 0;
      expect(idle).toBeGreaterThanOrEqual(BOOT_SECONDS);

      // The job's end leaves exactly the one warm runner the pool keeps: nothing asked for twice.
      await waitFor(
        async () => (await stack.containers()).every((container) => container.Names[0] !== `/${warm.name}`),
        {
          timeoutMs: 30_000,
          what: "the taken runner's container to be cleaned up",
        },
      );
      expect(containers.events.filter((event) => event.action === "start").map((event) => event.name)).toEqual([
        replacement.name,
      ]);
      expect((await stack.containers()).map((container) => container.Names[0])).toEqual([`/${replacement.name}`]);
    } finally {
      containers.stop();
    }
  });
});
