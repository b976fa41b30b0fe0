import { describe, expect, it } from "vitest";
import type { ManagedContainer } from "../../../src/docker/engine.js";
import { LABELS } from "../../../src/docker/labels.js";
import type { GitHubRunner } from "../../../src/github/runners-api.js";
import { planReconcile, scopesNeedingView, type ReconcileSnapshot } from "../../../src/lifecycle/reconcile-plan.js";
import type { ProvisionRequest } from "../../../src/queue/jobs.js";
import type { RunnerRecord } from "../../../src/state/runner-store.js";
import { pool } from "../support/pools.js";

const NOW = 10_000_000;
const MIN = 60_000;
const TARGET = { installationId: 7, scope: { kind: "org" as const, org: "acme" } };
const KEY = "7:acme";
const HERE = { name: "here", id: "here-id" };
const linux = pool({ name: "linux", labels: ["self-hosted", "linux"], idleTimeout: "10m", maxLifetime: "6h" });

function record(name: string, fields: Partial<RunnerRecord> = {}): RunnerRecord {
  return {
    name,
    pool: "linux",
    engine: "here",
    ...TARGET,
    githubJobId: 1,
    runnerId: Number.parseInt(name.slice(-8), 16),
    containerId: `c-${name}`,
    state: "idle",
    busyJobId: undefined,
    createdAt: NOW - 2 * MIN,
    completedAt: undefined,
    ...fields,
  };
}

function container(name: string, fields: Partial<ManagedContainer> = {}): ManagedContainer {
  return {
    id: `c-${name}`,
    name,
    state: "running",
    labels: {
      [LABELS.managed]: "true",
      [LABELS.pool]: "linux",
      [LABELS.runnerName]: name,
      [LABELS.githubJobId]: "1",
      [LABELS.owner]: "acme",
      [LABELS.installationId]: "7",
      [LABELS.repo]: "",
    },
    createdAt: NOW - 2 * MIN,
    ...fields,
  };
}

function registration(name: string, fields: Partial<GitHubRunner> = {}): GitHubRunner {
  return {
    id: Number.parseInt(name.slice(-8), 16),
    name,
    online: true,
    busy: false,
    labels: ["self-hosted", "linux"],
    ...fields,
  };
}

function waiting(...githubJobIds: number[]): Map<string, ProvisionRequest[]> {
  const requests = githubJobIds.map((githubJobId) => ({
    githubJobId,
    runId: 1,
    owner: "acme",
    repo: "app",
    ...TARGET,
    labels: ["self-hosted", "linux"],
    pool: "linux",
    queuedAt: NOW - MIN,
  }));
  return new Map([["linux", requests]]);
}

/** The registrations of the one listed target. */
function listed(...runners: GitHubRunner[]): ReconcileSnapshot["registrations"] {
  return new Map([[KEY, { target: TARGET, runners }]]);
}

function snapshot(fields: Partial<ReconcileSnapshot> = {}): ReconcileSnapshot {
  return {
    now: NOW,
    engine: "here",
    engineId: "here-id",
    bootstrapTimeoutMs: MIN,
    pools: [linux],
    containers: [],
    records: [],
    registrations: listed(),
    waitingJobs: waiting(),
    pendingDemand: new Map(),
    warmTargets: new Map(),
    slotHolders: { pools: new Map(), engine: [] },
    ...fields,
  };
}

const kinds = (snap: ReconcileSnapshot) =>
  planReconcile(snap).map((action) => `${action.kind}:${"runnerName" in action ? action.runnerName : ""}`);

describe("planReconcile", () => {
  it("leaves a healthy runner alone", () => {
    const name = "linux-0000000a";
    expect(
      planReconcile(
        snapshot({
          containers: [container(name)],
          records: [record(name)],
          registrations: listed(registration(name)),
          waitingJobs: waiting(1),
        }),
      ),
    ).toEqual([]);
  });

  it("stops a container that never registered once the bootstrap timeout passed", () => {
    const name = "linux-0000000b";
    const snap = snapshot({ containers: [container(name)], records: [record(name, { state: "starting" })] });
    expect(planReconcile(snap)).toEqual([
      { kind: "stop", runnerName: name, containerId: `c-${name}`, reason: "no-registration" },
    ]);
    const young = snapshot({
      containers: [container(name, { createdAt: NOW - 1000 })],
      records: [record(name, { state: "starting" })],
    });
    expect(planReconcile(young)).toEqual([]);
  });

  it("judges no runner on a scope it could not list", () => {
    const name = "linux-0000000c";
    expect(
      planReconcile(snapshot({ containers: [container(name)], records: [record(name)], registrations: new Map() })),
    ).toEqual([]);
  });

  it("deletes a registration runnerhub made that has no container", () => {
    const snap = snapshot({
      registrations: listed(
        registration("linux-0000000d"),
        registration("someone-elses"),
        registration("linux-0000000e", { busy: true }),
      ),
    });
    expect(planReconcile(snap)).toEqual([
      { kind: "delete-registration", runnerName: "linux-0000000d", runnerId: 13, target: TARGET },
    ]);
  });

  it("keeps a registration whose container is still being created, or lives on another engine", () => {
    const making = record("linux-0000000f", { containerId: undefined, createdAt: NOW - 1000 });
    const elsewhere = record("linux-00000010", { engine: "there" });
    const snap = snapshot({
      records: [making, elsewhere],
      registrations: listed(registration(making.name), registration(elsewhere.name)),
    });
    expect(kinds(snap)).toEqual([]);
  });

  it("leaves alone the runners of an earlier engine under this name: the engine-loss pass gives them up", () => {
    const earlier = record("linux-00000020", { engineId: "earlier-id" });
    const snap = snapshot({ records: [earlier], registrations: listed(registration(earlier.name)) });
    expect(kinds(snap)).toEqual([]);
    expect(kinds(snapshot({ records: [{ ...earlier, engineId: "here-id" }] }))).toEqual([
      "forget-record:linux-00000020",
    ]);
  });

  it("forgets a record whose container is gone, and frees its slot", () => {
    expect(planReconcile(snapshot({ records: [record("linux-00000011")] }))).toEqual([
      { kind: "forget-record", runnerName: "linux-00000011", pool: "linux" },
    ]);
  });

  it("retires idle runners beyond waiting jobs and minIdle after the idle timeout, never a busy one", () => {
    const old = NOW - 11 * MIN;
    const names = ["linux-00000012", "linux-00000013", "linux-00000014"];
    const snap = snapshot({
      containers: names.map((name) => container(name, { createdAt: old })),
      records: [
        record(names[0]!, { createdAt: old, githubJobId: 1 }),
        record(names[1]!, { createdAt: old, githubJobId: 1 }),
        record(names[2]!, { createdAt: old, state: "busy" }),
      ],
      registrations: listed(registration(names[0]!), registration(names[1]!), registration(names[2]!, { busy: true })),
      waitingJobs: waiting(1),
    });
    expect(kinds(snap)).toEqual([`retire:${names[0]}`]);
  });

  it("retires at once the idle runner whose job was cancelled or taken elsewhere", () => {
    const name = "linux-00000015";
    const snap = snapshot({
      containers: [container(name)],
      records: [record(name, { githubJobId: 99 })],
      registrations: listed(registration(name)),
      waitingJobs: waiting(),
    });
    expect(planReconcile(snap)).toEqual([
      {
        kind: "retire",
        pool: "linux",
        runnerName: name,
        containerId: `c-${name}`,
        runnerId: 0x15,
        target: TARGET,
        reason: "surplus",
      },
    ]);
  });

  it("retires only what is left of the pool-wide surplus once another engine retired its share", () => {
    // Two idle runners per engine, two jobs waiting: the pool has two runners too many.
    const old = NOW - 11 * MIN;
    const here = ["linux-00000020", "linux-00000021"];
    const there = ["linux-00000022", "linux-00000023"];
    const all = [...here, ...there];
    const view = (retiredThere: boolean) =>
      snapshot({
        containers: here.map((name) => container(name, { createdAt: old })),
        records: [
          ...here.map((name) => record(name, { createdAt: old })),
          ...there.map((name) =>
            record(name, { createdAt: old, engine: "there", retiring: retiredThere ? "idle-timeout" : undefined }),
          ),
        ],
        registrations: listed(...all.map((name) => registration(name))),
        waitingJobs: waiting(1, 2),
      });
    // Each engine alone sees the whole surplus and retires it from its own runners ...
    expect(kinds(view(false))).toEqual(here.map((name) => `retire:${name}`));
    // ... so the reconciler decides a pool's retirements under one lock, on records read after
    // the other engine marked its retired runners: then nothing is left to retire here.
    expect(kinds(view(true))).toEqual([]);
  });

  it("adopts a registered runner container whose record Redis lost, busy or not, from its labels", () => {
    const busy = "linux-00000030";
    const idle = "linux-00000031";
    const snap = snapshot({
      containers: [container(busy), container(idle)],
      registrations: listed(registration(busy, { busy: true }), registration(idle)),
    });
    expect(planReconcile(snap)).toEqual([
      { kind: "adopt", record: record(busy, { state: "busy", engineId: "here-id" }), fresh: true },
      { kind: "adopt", record: record(idle, { engineId: "here-id" }), fresh: true },
    ]);
  });

  it("never stops a container without a record on a scope it could not list, nor a young one", () => {
    const name = "linux-00000032";
    expect(planReconcile(snapshot({ containers: [container(name)], registrations: new Map() }))).toEqual([]);
    const young = container(name, { createdAt: NOW - 1000 });
    expect(planReconcile(snapshot({ containers: [young] }))).toEqual([]);
    expect(planReconcile(snapshot({ containers: [container(name)] }))).toEqual([
      { kind: "stop", runnerName: name, containerId: `c-${name}`, reason: "no-record" },
    ]);
  });

  it("adopts the container of a record its worker never finished, once the bootstrap timeout passed", () => {
    const name = "linux-00000033";
    const unfinished = record(name, { containerId: undefined, createdAt: NOW - 2 * MIN });
    const snap = snapshot({
      containers: [container(name)],
      records: [unfinished],
      registrations: listed(registration(name)),
    });
    expect(kinds(snap)).toEqual([`adopt:`]);
    expect(planReconcile(snap)[0]).toEqual({ kind: "adopt", record: record(name), fresh: false });
  });

  it("stops a runner past its max lifetime, even a busy one", () => {
    const name = "linux-00000016";
    const snap = snapshot({
      containers: [container(name, { createdAt: NOW - 7 * 3600_000 })],
      records: [record(name, { state: "busy" })],
      registrations: listed(registration(name, { busy: true })),
    });
    expect(planReconcile(snap)).toEqual([
      { kind: "stop", runnerName: name, containerId: `c-${name}`, reason: "max-lifetime" },
    ]);
  });

  it("cleans containers that exited, and marks runners GitHub reports online", () => {
    const exited = container("linux-00000017", { state: "exited" });
    const coming = "linux-00000018";
    const snap = snapshot({
      containers: [exited, container(coming)],
      records: [record(exited.name), record(coming, { state: "starting" })],
      registrations: listed(registration(exited.name), registration(coming)),
      waitingJobs: waiting(1),
    });
    expect(kinds(snap)).toEqual([`clean-exited:`, `mark:${coming}`]);
  });

  it("cleans a container stuck in created past the bootstrap timeout, and keeps one being started", () => {
    const stuck = container("linux-0000001d", { state: "created", createdAt: NOW - 2 * MIN });
    const starting = container("linux-0000001e", { state: "created", createdAt: NOW - 1000 });
    const snap = snapshot({
      containers: [stuck, starting],
      records: [record(stuck.name), record(starting.name, { state: "starting" })],
    });
    expect(kinds(snap)).toEqual(["clean-exited:"]);
  });

  it("asks for warm runners up to minIdle within maxRunners", () => {
    const warm = pool({
      name: "linux",
      labels: ["self-hosted", "linux"],
      minIdle: 3,
      maxRunners: 4,
      warmScope: "acme",
    });
    const name = "linux-00000019";
    const snap = snapshot({
      pools: [warm],
      containers: [container(name)],
      records: [record(name, { githubJobId: 0 })],
      registrations: listed(registration(name)),
      waitingJobs: waiting(),
    });
    expect(planReconcile(snap)).toEqual([{ kind: "warm", pool: "linux", count: 2 }]);
    const full = {
      ...snap,
      records: [
        record(name, { githubJobId: 0 }),
        record("linux-0000001a", { state: "busy" }),
        record("linux-0000001b", { state: "busy" }),
        record("linux-0000001c", { state: "busy" }),
      ],
    };
    expect(
      planReconcile({ ...full, containers: full.records.map((r) => container(r.name)) }).filter(
        (a) => a.kind === "warm",
      ),
    ).toEqual([]);
  });

  it("keeps the warm target of the snapshot rather than minIdle: more warm runners, or none", () => {
    const warm = pool({
      name: "linux",
      labels: ["self-hosted", "linux"],
      minIdle: 1,
      maxRunners: 6,
      warmScope: "acme",
    });
    const name = "linux-00000020";
    const snap = snapshot({
      pools: [warm],
      containers: [container(name)],
      records: [record(name, { githubJobId: 0 })],
      registrations: listed(registration(name)),
      waitingJobs: waiting(),
      warmTargets: new Map([["linux", 4]]),
    });
    expect(planReconcile(snap)).toEqual([{ kind: "warm", pool: "linux", count: 3 }]);
    expect(planReconcile({ ...snap, warmTargets: new Map([["linux", 0]]) })).toEqual([]);
  });

  it("retires idle runners beyond the warm target after the idle timeout, never a busy one", () => {
    const warm = pool({
      name: "linux",
      labels: ["self-hosted", "linux"],
      minIdle: 0,
      maxRunners: 6,
      warmScope: "acme",
    });
    const old = NOW - 11 * MIN;
    const names = ["linux-00000021", "linux-00000022", "linux-00000023", "linux-00000024"];
    const snap = snapshot({
      pools: [warm],
      containers: names.map((name) => container(name, { createdAt: old })),
      records: [
        record(names[0]!, { createdAt: old, githubJobId: 0 }),
        record(names[1]!, { createdAt: old, githubJobId: 0 }),
        record(names[2]!, { createdAt: NOW - MIN, githubJobId: 0 }),
        record(names[3]!, { createdAt: old, state: "busy" }),
      ],
      registrations: listed(...names.map((name, i) => registration(name, { busy: i === 3 }))),
      waitingJobs: waiting(),
      warmTargets: new Map([["linux", 2]]),
    });
    // Three idle, target two: the oldest idle one past the timeout goes.
    expect(kinds(snap)).toEqual([`retire:${names[0]}`]);
    // Target zero: both past the timeout go; the young idle one waits for its timeout, the busy one stays.
    expect(kinds({ ...snap, warmTargets: new Map([["linux", 0]]) })).toEqual([
      `retire:${names[0]}`,
      `retire:${names[1]}`,
    ]);
  });

  it("provisions again for the oldest waiting jobs no runner is coming for", () => {
    const name = "linux-0000001f";
    const snap = snapshot({
      containers: [container(name, { state: "running" })],
      records: [record(name, { state: "starting" })],
      registrations: listed(registration(name, { online: false })),
      waitingJobs: waiting(11, 12, 13, 14),
      pendingDemand: new Map([["linux", 1]]),
    });
    const provision = planReconcile(snap).filter((action) => action.kind === "provision");
    expect(provision).toEqual([{ kind: "provision", pool: "linux", requests: waiting(11, 12).get("linux") }]);
  });

  it("in a fair-share pool, provisions again for the repository whose jobs no runner of its own is coming for", () => {
    const name = "linux-0000002f";
    const fair = pool({ name: "linux", labels: ["self-hosted", "linux"], perRepository: { maxRunners: 2 } });
    const [ofA, ofB] = waiting(21, 22).get("linux") ?? [];
    if (!ofA || !ofB) throw new Error("two waiting jobs");
    // A starting runner of acme/app-a: counted across the pool it would hide acme/app-b's job.
    const snap = snapshot({
      pools: [fair],
      containers: [container(name, { state: "running" })],
      records: [record(name, { state: "starting", repository: "acme/app-a" })],
      registrations: listed(registration(name, { online: false })),
      waitingJobs: new Map([
        [
          "linux",
          [
            { ...ofA, repo: "app-a" },
            { ...ofB, repo: "app-b" },
          ],
        ],
      ]),
    });
    const provision = planReconcile(snap).filter((action) => action.kind === "provision");
    expect(provision).toEqual([{ kind: "provision", pool: "linux", requests: [{ ...ofB, repo: "app-b" }] }]);
  });

  it("provisions again for another organization's job while an idle runner of the first organization waits, and retires that runner", () => {
    // An idle runner registered at acme whose job went elsewhere; globex's job waits. acme's runner can never take it.
    const name = "linux-0000002e";
    const [ofAcme] = waiting(31).get("linux") ?? [];
    if (!ofAcme) throw new Error("one waiting job");
    const ofGlobex = { ...ofAcme, owner: "globex", installationId: 8, scope: { kind: "org" as const, org: "globex" } };
    const snap = snapshot({
      containers: [container(name)],
      records: [record(name, { githubJobId: 99 })],
      registrations: listed(registration(name)),
      waitingJobs: new Map([["linux", [ofGlobex]]]),
    });
    expect(planReconcile(snap).map((action) => action.kind)).toEqual(["retire", "provision"]);
    expect(planReconcile(snap).find((action) => action.kind === "provision")).toEqual({
      kind: "provision",
      pool: "linux",
      requests: [ofGlobex],
    });
  });

  it("in a full fair-share pool, retires an idle runner of one repository that another repository waits for", () => {
    const [idleA, busyA, newA] = ["linux-00000031", "linux-00000032", "linux-00000033"];
    const fair = pool({
      name: "linux",
      labels: ["self-hosted", "linux"],
      maxRunners: 2,
      perRepository: { maxRunners: 2 },
    });
    const [job] = waiting(41).get("linux") ?? [];
    if (!job) throw new Error("one waiting job");
    const ofA = { repository: "acme/app-a" };
    const view = (fields: Partial<ReconcileSnapshot>) =>
      snapshot({
        pools: [fair],
        containers: [container(idleA), container(busyA)],
        records: [record(idleA, ofA), record(busyA, { ...ofA, state: "busy", githubJobId: 2 })],
        registrations: listed(registration(idleA), registration(busyA, { busy: true })),
        waitingJobs: new Map([["linux", [{ ...job, repo: "app-b" }]]]),
        ...fields,
      });
    // Across the pool, the idle acme/app-a runner would count as serving acme/app-b's job, and keep its slot.
    expect(kinds(view({}))).toEqual([`retire:${idleA}`]);
    expect(planReconcile(view({})).find((action) => action.kind === "retire")).toMatchObject({ reason: "surplus" });
    // Not while acme/app-a has a waiting job of its own, nor while the pool has room for acme/app-b's runner.
    const own = { ...job, githubJobId: 1, repo: "app-a" };
    expect(kinds(view({ waitingJobs: new Map([["linux", [own, { ...job, repo: "app-b" }]]]) }))).toEqual([]);
    expect(kinds(view({ pools: [{ ...fair, maxRunners: 3 }] }))).toEqual(["provision:"]);
    // Nor a runner whose registration this pass did not see (a fresh one), nor a busy one.
    const fresh = view({
      containers: [container(newA), container(busyA)],
      records: [record(newA, ofA), record(busyA, { ...ofA, state: "busy", githubJobId: 2 })],
      registrations: new Map(),
    });
    expect(kinds(fresh)).toEqual([]);
  });

  it("releases capacity slots held by runners nobody knows", () => {
    const snap = snapshot({ slotHolders: { pools: new Map([["linux", ["linux-ghost"]]]), engine: ["linux-ghost"] } });
    expect(planReconcile(snap)).toEqual([
      { kind: "release-slot", runnerName: "linux-ghost", slot: { kind: "pool", name: "linux" } },
      { kind: "release-slot", runnerName: "linux-ghost", slot: { kind: "engine", name: "here" } },
    ]);
  });
});

describe("scopesNeedingView", () => {
  const repo = { installationId: 9, scope: { kind: "repo" as const, owner: "acme", repo: "app" } };

  it("lists the scopes of this engine's runners that are neither busy nor new, each once", () => {
    const records = [
      record("linux-00000001", { state: "idle" }),
      record("linux-00000002", { state: "starting" }),
      record("linux-00000003", { state: "busy", ...repo }),
      record("linux-00000004", { state: "idle", createdAt: NOW - 10_000, ...repo }),
      record("linux-00000005", { state: "idle", engine: "elsewhere", ...repo }),
    ];
    expect(scopesNeedingView(records, HERE, NOW, MIN)).toEqual([TARGET]);
  });

  it("lists nothing while every runner is busy or new: the happy path costs no GitHub call", () => {
    const records = [record("linux-00000001", { state: "busy" }), record("linux-00000002", { createdAt: NOW - 5_000 })];
    expect(scopesNeedingView(records, HERE, NOW, MIN)).toEqual([]);
  });
});
