import type { Queue } from "bullmq";
import type { ChainableCommander } from "ioredis";
import type { Logger } from "pino";
import type { Pool } from "../config/pools.js";
import type { ProvisionRequest } from "../queue/jobs.js";
import type { Reservation } from "../state/scripts/index.js";
import type { StoreContext } from "../state/store-context.js";
import { MAX_WAKE_TRIES, RESERVATION_LEASE_MS } from "../tunables.js";

export type { Reservation };

/** Which ceiling a slot counts against. */
export type SlotKind = "pool" | "engine";

/**
 * What a pool's ceilings are made of: its name, the pool file's maxRunners (a run-time override in
 * Redis beats it) and, for a fair-share pool, the most runners one repository may hold.
 */
export type SlotPool = Pick<Pool, "name" | "maxRunners"> & Partial<Pick<Pool, "perRepository">>;

/** A fair-share pool's slots and parked demand of one repository (`owner/repo`, lower case). */
export interface RepositorySlots {
  repository: string;
  /** Slots held: runners being made or running. */
  slots: number;
  /** Provision entries parked until the repository may take a slot. */
  parked: number;
}

/** A Docker engine's ceiling: its name and the most runner containers it may hold, undefined for no limit. */
export interface SlotEngine {
  name: string;
  capacity: number | undefined;
}

/**
 * Hard per-pool and per-engine ceilings on runner containers, shared by every process through
 * Redis, and the demand parked until a slot frees. This neutral view serves every role (the
 * admin API counts and wakes); a worker takes slots through `forEngine`, bound to its engine.
 */
export class Slots {
  /**
   * `perRepository`: a pool's perRepository.maxRunners (undefined when it has none), which the
   * wake needs to pass over repositories at their ceiling. `overflowing`: the pools whose
   * `overflow` names a pool, whose parked demand a slot freed there may start.
   */
  constructor(
    protected readonly store: StoreContext,
    private readonly queue: Queue<ProvisionRequest>,
    private readonly log: Logger,
    private readonly perRepository: (pool: string) => number | undefined = () => undefined,
    private readonly overflowing: (pool: string) => readonly string[] = () => [],
  ) {}

  /**
   * The slots of one engine. A reservation not confirmed within `leaseMs` is presumed to belong
   * to a crashed worker and is taken back.
   */
  forEngine(engine: SlotEngine, leaseMs = RESERVATION_LEASE_MS): EngineSlots {
    return new EngineSlots(this.store, this.queue, this.log, engine, leaseMs, this.perRepository, this.overflowing);
  }

  /** Frees a runner's pool and engine slots and wakes the oldest demand waiting for one. */
  async release(pool: string, runner: string, engine: string): Promise<void> {
    const repository = await this.store.redis.hget(this.store.keys.slotRepos(pool), runner);
    const freeing = this.store.redis
      .multi()
      .zrem(this.store.keys.slots("pool", pool), runner)
      .zrem(this.store.keys.slots("engine", engine), runner);
    if (repository !== null) this.freeRepositorySlot(freeing, pool, repository, runner);
    await freeing.exec();
    await this.wake(pool, engine);
  }

  /** Frees one slot of one pool or engine, for repairs where the other side is unknown; wakes nobody. */
  async releaseFrom(kind: SlotKind, name: string, runner: string): Promise<void> {
    const repository = kind === "pool" ? await this.store.redis.hget(this.store.keys.slotRepos(name), runner) : null;
    const freeing = this.store.redis.multi().zrem(this.store.keys.slots(kind, name), runner);
    if (repository !== null) this.freeRepositorySlot(freeing, name, repository, runner);
    await freeing.exec();
  }

  private freeRepositorySlot(freeing: ChainableCommander, pool: string, repository: string, runner: string): void {
    freeing
      .zrem(`${this.store.keys.repoSlotsPrefix(pool)}${repository}`, runner)
      .hdel(this.store.keys.slotRepos(pool), runner);
  }

  /**
   * Wakes the next demand parked on this pool (round-robin by repository in a fair-share pool),
   * else on a pool that overflows into it, else on this engine.
   */
  async wake(pool: string | undefined, engine: string): Promise<boolean> {
    if (pool !== undefined && ((await this.wakeOne("pool", pool)) || (await this.wakeOverflowing(pool)))) return true;
    return this.wakeOne("engine", engine);
  }

  /**
   * Wakes demand parked on a full pool whose overflow is this pool: taken up again, it finds its
   * pool still full and overflows into the slot freed here. The pool whose oldest parked demand
   * is oldest goes first; each pool gives its entry as its own wake does (one script per pop, so
   * two processes never take the same entry, and a fair-share pool keeps its repositories' turns).
   */
  private async wakeOverflowing(pool: string): Promise<boolean> {
    const sources = this.overflowing(pool);
    if (sources.length === 0) return false;
    const oldest = await Promise.all(sources.map(async (source) => ({ source, at: await this.oldestParked(source) })));
    const waiting = oldest.filter((entry) => entry.at !== undefined).sort((a, b) => (a.at ?? 0) - (b.at ?? 0));
    for (const { source } of waiting) {
      if (await this.wakeOne("pool", source)) return true;
    }
    return false;
  }

  /** When the oldest demand parked on a pool (its own set or any repository's) was queued; undefined for none. */
  private async oldestParked(pool: string): Promise<number | undefined> {
    const keys = this.store.keys;
    const repositories = await this.store.redis.lrange(keys.parkedRepos(pool), 0, -1);
    const sets = [
      keys.parked("pool", pool),
      ...repositories.map((repository) => `${keys.parkedRepoPrefix(pool)}${repository}`),
    ];
    const heads = await Promise.all(sets.map((set) => this.store.redis.zrange(set, "0", "0", "WITHSCORES")));
    const scores = heads.flatMap(([, score]) => (score === undefined ? [] : [Number(score)]));
    return scores.length === 0 ? undefined : Math.min(...scores);
  }

  /** Wakes the oldest demand parked on this pool only (its limit was raised). */
  async wakePool(pool: string): Promise<boolean> {
    return this.wakeOne("pool", pool);
  }

  /** Runners holding a slot of the pool (reserved or running), expired leases excluded. */
  async holders(pool: string, now: number): Promise<string[]> {
    return this.store.redis.zrangebyscore(this.store.keys.slots("pool", pool), now, "+inf");
  }

  /** Runners whose container started and who hold their slot until released. */
  async confirmedHolders(kind: SlotKind, name: string): Promise<string[]> {
    return this.store.redis.zrangebyscore(this.store.keys.slots(kind, name), "+inf", "+inf");
  }

  /** Every runner holding a slot of the pool or engine, leases (even expired ones) included. */
  async allHolders(kind: SlotKind, name: string): Promise<string[]> {
    return this.store.redis.zrange(this.store.keys.slots(kind, name), "0", "-1");
  }

  /**
   * Remembers a queue entry that waits for a slot, oldest demand first; with `repository`, on that
   * repository's turn in the pool's round-robin (a fair-share pool).
   */
  async park(kind: SlotKind, name: string, queueJobId: string, queuedAt: number, repository?: string): Promise<void> {
    if (kind === "pool" && repository !== undefined) {
      const keys = this.store.keys;
      await this.store.redis.runnerhubParkByRepository(
        keys.parkedRepos(name),
        keys.parkedRepoPrefix(name),
        repository.toLowerCase(),
        queueJobId,
        queuedAt,
      );
      return;
    }
    await this.store.redis.zadd(this.store.keys.parked(kind, name), queuedAt, queueJobId);
  }

  async parkedCount(kind: SlotKind, name: string): Promise<number> {
    const own = await this.store.redis.zcard(this.store.keys.parked(kind, name));
    if (kind === "engine") return own;
    const byRepository = await this.repositories(name);
    return byRepository.reduce((sum, repository) => sum + repository.parked, own);
  }

  /** A fair-share pool's slots and parked demand per repository, by repository name. */
  async repositories(pool: string): Promise<RepositorySlots[]> {
    const keys = this.store.keys;
    const [holders, rotation] = await Promise.all([
      this.store.redis.hvals(keys.slotRepos(pool)),
      this.store.redis.lrange(keys.parkedRepos(pool), 0, -1),
    ]);
    const names = [...new Set([...holders, ...rotation])].sort();
    const parked = await Promise.all(
      names.map((repository) => this.store.redis.zcard(`${keys.parkedRepoPrefix(pool)}${repository}`)),
    );
    return names.map((repository, index) => ({
      repository,
      slots: holders.filter((holder) => holder === repository).length,
      parked: parked[index] ?? 0,
    }));
  }

  private async wakeOne(kind: SlotKind, name: string): Promise<boolean> {
    for (let tries = 0; tries < MAX_WAKE_TRIES; tries++) {
      const next = await this.nextParked(kind, name);
      if (!next) return false;
      const job = await this.queue.getJob(next.id);
      if (job && (await job.isDelayed())) {
        await job.promote();
        this.log.debug({ queueJobId: next.id, [kind]: name, repository: next.repository }, "parked demand woken");
        return true;
      }
    }
    return false;
  }

  /** Takes the next parked entry off its set: round-robin by repository for a pool, oldest first for an engine. */
  private async nextParked(kind: SlotKind, name: string): Promise<{ id: string; repository?: string } | undefined> {
    const keys = this.store.keys;
    if (kind === "engine") {
      const [id] = await this.store.redis.zpopmin(keys.parked(kind, name));
      return id ? { id } : undefined;
    }
    const next = await this.store.redis.runnerhubWakeFair(
      keys.parked(kind, name),
      keys.parkedRepos(name),
      keys.parkedRepoPrefix(name),
      keys.repoSlotsPrefix(name),
      this.perRepository(name) ?? -1,
    );
    if (!next) return undefined;
    const [id, repository] = next;
    return repository === "" ? { id } : { id, repository };
  }
}

/** The slots as one worker sees them: every reservation counts against its own engine. */
export class EngineSlots extends Slots {
  constructor(
    store: StoreContext,
    queue: Queue<ProvisionRequest>,
    log: Logger,
    readonly engine: SlotEngine,
    private readonly leaseMs: number,
    perRepository?: (pool: string) => number | undefined,
    overflowing?: (pool: string) => readonly string[],
  ) {
    super(store, queue, log, perRepository, overflowing);
  }

  /**
   * Takes a slot under a lease, until the runner's container is confirmed. `repository`
   * (`owner/repo`): the job's, counted against a fair-share pool's perRepository ceiling.
   */
  async reserve(pool: SlotPool, runner: string, repository?: string): Promise<Reservation> {
    return this.take(pool, runner, this.leaseMs, "reserve", repository);
  }

  /** Whether a reservation would succeed now, without taking it. */
  async hasRoom(pool: SlotPool, repository?: string): Promise<boolean> {
    return (await this.take(pool, "", 0, "check", repository)) === "ok";
  }

  /**
   * The container is about to run: the slot is held until release. Not "ok" when the lease ran
   * out meanwhile and the slot went to someone else; the caller must then undo the runner.
   */
  async confirm(pool: SlotPool, runner: string, repository?: string): Promise<Reservation> {
    return this.take(pool, runner, 0, "confirm", repository);
  }

  /** Frees a runner's slots, on this engine unless its record names another (a lost one). */
  override async release(pool: string, runner: string, engine = this.engine.name): Promise<void> {
    await super.release(pool, runner, engine);
  }

  override async wake(pool?: string, engine = this.engine.name): Promise<boolean> {
    return super.wake(pool, engine);
  }

  private async take(
    pool: SlotPool,
    runner: string,
    leaseMs: number,
    mode: "reserve" | "check" | "confirm",
    repository: string | undefined,
  ): Promise<Reservation> {
    // Only a fair-share pool counts repositories; elsewhere a slot belongs to the pool alone.
    const fair = pool.perRepository !== undefined && repository !== undefined;
    return this.store.redis.runnerhubTakeSlot(
      this.store.keys.slots("pool", pool.name),
      this.store.keys.slots("engine", this.engine.name),
      this.store.keys.poolOverrides,
      this.store.keys.slotRepos(pool.name),
      this.store.keys.repoSlotsPrefix(pool.name),
      pool.name,
      pool.maxRunners,
      this.engine.capacity ?? -1,
      runner,
      leaseMs,
      mode,
      fair ? repository.toLowerCase() : "",
      fair ? (pool.perRepository?.maxRunners ?? -1) : -1,
    );
  }
}
