import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { waitFor } from "../sim/github-simulator.js";
import { RedisServer, type RedisLaunch } from "./redis-server.js";

const SENTINELS = 3;
const QUORUM = 2;
const READY_DEADLINE_MS = 30_000;

export interface SentinelTimings {
  /** Sentinel's down-after-milliseconds: silence before a primary is judged down. */
  downAfterMs: number;
  failoverTimeoutMs: number;
}

/** Any client of the test: one question at a time, no retries behind its back. */
function directClient(port: number): Redis {
  const client = new Redis({ host: "127.0.0.1", port, lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on("error", () => undefined);
  return client;
}

async function ask<T>(port: number, question: (client: Redis) => Promise<T>): Promise<T> {
  const client = directClient(port);
  try {
    return await question(client);
  } finally {
    client.disconnect();
  }
}

/** A replica of `primary` that syncs at once (no diskless-sync delay); the sync's file goes to `dir`. */
function replicaOf(primary: number, dir: string): RedisLaunch {
  return {
    command: "redis-server",
    args: (port) => [
      ...["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      ...["--replicaof", "127.0.0.1", String(primary), "--repl-diskless-sync-delay", "0", "--dir", dir],
    ],
  };
}

/** Debian's redis-sentinel with a config file of its own (Sentinel rewrites it as it learns). */
function sentinelOf(dir: string, name: string, primary: number, timings: SentinelTimings, index: number): RedisLaunch {
  return {
    command: "redis-sentinel",
    args: (port) => {
      const file = path.join(dir, `sentinel-${index}-${port}.conf`);
      writeFileSync(
        file,
        [
          `port ${port}`,
          "bind 127.0.0.1",
          `dir ${dir}`,
          `sentinel monitor ${name} 127.0.0.1 ${primary} ${QUORUM}`,
          `sentinel down-after-milliseconds ${name} ${timings.downAfterMs}`,
          `sentinel failover-timeout ${name} ${timings.failoverTimeoutMs}`,
          `sentinel parallel-syncs ${name} 1`,
          "",
        ].join("\n"),
      );
      return [file];
    },
  };
}

/**
 * A Redis primary, one replica and three Sentinels on loopback, each a real process on a free
 * port: the set-up docs/operations.md describes, for failover tests.
 */
export class SentinelGroup {
  private constructor(
    readonly name: string,
    readonly primary: RedisServer,
    readonly replica: RedisServer,
    readonly sentinels: RedisServer[],
    private readonly dir: string,
  ) {}

  /** Replicas added after the start. */
  private readonly extra: RedisServer[] = [];

  static async start(name: string, timings: SentinelTimings): Promise<SentinelGroup> {
    const dir = mkdtempSync(path.join(tmpdir(), "runnerhub-sentinel-"));
    const started: RedisServer[] = [];
    try {
      const primary = await RedisServer.start();
      started.push(primary);
      const replica = await RedisServer.start({ launch: replicaOf(primary.port, dir) });
      started.push(replica);
      for (let index = 0; index < SENTINELS; index++) {
        started.push(await RedisServer.start({ launch: sentinelOf(dir, name, primary.port, timings, index) }));
      }
      const group = new SentinelGroup(name, primary, replica, started.slice(2), dir);
      await group.ready();
      return group;
    } catch (error) {
      await Promise.all(started.map((server) => server.stop()));
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** The replica is in sync and every Sentinel knows it and the other two: a failover can happen. */
  private async ready(): Promise<void> {
    await waitFor(
      async () => /state=online/.test(await ask(this.primary.port, (client) => client.info("replication"))),
      { timeoutMs: READY_DEADLINE_MS, what: "the replica in sync with the primary" },
    );
    await waitFor(
      async () => {
        const views = await Promise.all(
          this.sentinels.map((sentinel) =>
            ask(sentinel.port, async (client) => ({
              peers: ((await client.call("SENTINEL", "SENTINELS", this.name)) as unknown[]).length,
              replicas: ((await client.call("SENTINEL", "REPLICAS", this.name)) as unknown[]).length,
            })),
          ),
        );
        return views.every((view) => view.peers === SENTINELS - 1 && view.replicas === 1);
      },
      { timeoutMs: READY_DEADLINE_MS, what: "every Sentinel to know the replica and the other Sentinels" },
    );
  }

  /** What runnerhub is started with to follow this group's primary. */
  get env(): Record<string, string> {
    return {
      REDIS_URL: "",
      REDIS_SENTINELS: this.sentinels.map((sentinel) => `127.0.0.1:${sentinel.port}`).join(","),
      REDIS_SENTINEL_NAME: this.name,
    };
  }

  /** A client for the test that follows the primary as runnerhub does. */
  client(): Redis {
    const client = new Redis({
      sentinels: this.sentinels.map((sentinel) => ({ host: "127.0.0.1", port: sentinel.port })),
      name: this.name,
      maxRetriesPerRequest: null,
    });
    client.on("error", () => undefined);
    return client;
  }

  /** The primary's port as the Sentinels report it now. */
  currentPrimaryPort(): Promise<number> {
    return ask(this.sentinels[0]?.port ?? 0, async (client) => {
      const [, port] = (await client.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", this.name)) as [string, string];
      return Number(port);
    });
  }

  /**
   * Starts one more replica of the current primary and waits until every Sentinel counts it as a
   * healthy replica (a candidate for the next failover).
   */
  async addReplica(): Promise<RedisServer> {
    const replica = await RedisServer.start({ launch: replicaOf(await this.currentPrimaryPort(), this.dir) });
    this.extra.push(replica);
    await waitFor(
      async () => {
        const views = await Promise.all(
          this.sentinels.map((sentinel) =>
            ask(sentinel.port, async (client) => {
              const replicas = (await client.call("SENTINEL", "REPLICAS", this.name)) as string[][];
              return replicas.some((fields) => {
                const field = (name: string) => fields[fields.indexOf(name) + 1];
                return field("port") === String(replica.port) && field("flags") === "slave";
              });
            }),
          ),
        );
        return views.every(Boolean);
      },
      { timeoutMs: READY_DEADLINE_MS, what: `every Sentinel to count the replica on port ${replica.port}` },
    );
    return replica;
  }

  /** A planned failover (`SENTINEL FAILOVER`): the primary is demoted while it still runs. */
  async failover(): Promise<void> {
    const before = await this.currentPrimaryPort();
    await ask(this.sentinels[0]?.port ?? 0, (client) => client.call("SENTINEL", "FAILOVER", this.name));
    await waitFor(async () => (await this.currentPrimaryPort()) !== before, {
      timeoutMs: READY_DEADLINE_MS,
      what: "the Sentinels to promote a replica",
    });
  }

  /** Every server and Sentinel's last lines, for a failure message. */
  logs(): string {
    const all = [this.primary, this.replica, ...this.extra, ...this.sentinels];
    return all.map((server) => `--- port ${server.port}:\n${server.logs().join("\n")}`).join("\n");
  }

  async stop(): Promise<void> {
    await Promise.all([...this.sentinels, ...this.extra, this.replica, this.primary].map((server) => server.stop()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
