import type { Queue } from "bullmq";
import type { Logger } from "pino";
import type { Pool } from "../config/pools.js";
import type { ProvisionRequest } from "../queue/jobs.js";
import type { Reservation } from "../state/scripts/index.js";
import type { StoreContext } from "../state/store-context.js";
import { MAX_WAKE_TRIES, RESERVATION_LEASE_MS } from "../tunables.js";

export type { Reservation };

/** Which ceiling a slot counts against. */
export type SlotKind = "pool" | "engine";

/** What a pool's ceiling is made of: its name and the pool file's maxRunners (a run-time override in Redis beats it). */
export type SlotPool = Pick<Pool, "name" | "maxRunners">;

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
  constructor(
    protected readonly store: StoreContext,
    private readonly queue: Queue<ProvisionRequest>,
    private readonly log: Logger,
  ) {}

  /**
   * The slots of one engine. A reservation not confirmed within `leaseMs` is presumed to belong
   * to a crashed worker and is taken back.
   */
  forEngine(engine: SlotEngine, leaseMs = RESERVATION_LEASE_MS): EngineSlots {
    return new EngineSlots(this.store, this.queue, this.log, engine, leaseMs);
  }

  /** Frees a runner's pool and engine slots and wakes the oldest demand waiting for one. */
  async release(pool: string, runner: string, engine: string): Promise<void> {
    await this.store.redis
      .multi()
      .zrem(this.store.keys.slots("pool", pool), runner)
      .zrem(this.store.keys.slots("engine", engine), runner)
      .exec();
    await this.wake(pool, engine);
  }

  /** Frees one slot of one pool or engine, for repairs where the other side is unknown; wakes nobody. */
  async releaseFrom(kind: SlotKind, name: string, runner: string): Promise<void> {
    await this.store.redis.zrem(this.store.keys.slots(kind, name), runner);
  }

  /** Wakes the oldest demand parked on this pool, else on this engine. */
  async wake(pool: string | undefined, engine: string): Promise<boolean> {
    return (pool !== undefined && (await this.wakeOne("pool", pool))) || (await this.wakeOne("engine", engine));
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

  /** Remembers a queue entry that waits for a slot, oldest demand first. */
  async park(kind: SlotKind, name: string, queueJobId: string, queuedAt: number): Promise<void> {
    await this.store.redis.zadd(this.store.keys.parked(kind, name), queuedAt, queueJobId);
  }

  async parkedCount(kind: SlotKind, name: string): Promise<number> {
    return this.store.redis.zcard(this.store.keys.parked(kind, name));
  }

  private async wakeOne(kind: SlotKind, name: string): Promise<boolean> {
    for (let tries = 0; tries < MAX_WAKE_TRIES; tries++) {
      const [id] = await this.store.redis.zpopmin(this.store.keys.parked(kind, name));
      if (!id) return false;
      const job = await this.queue.getJob(id);
      if (job && (await job.isDelayed())) {
        await job.promote();
        this.log.debug({ queueJobId: id, [kind]: name }, "parked demand woken");
        return true;
      }
    }
    return false;
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
  ) {
    super(store, queue, log);
  }

  /** Takes a slot under a lease, until the runner's container is confirmed. */
  async reserve(pool: SlotPool, runner: string): Promise<Reservation> {
    return this.take(pool, runner, this.leaseMs, "reserve");
  }

  /** Whether a reservation would succeed now, without taking it. */
  async hasRoom(pool: SlotPool): Promise<boolean> {
    return (await this.take(pool, "", 0, "check")) === "ok";
  }

  /**
   * The container is about to run: the slot is held until release. Not "ok" when the lease ran
   * out meanwhile and the slot went to someone else; the caller must then undo the runner.
   */
  async confirm(pool: SlotPool, runner: string): Promise<Reservation> {
    return this.take(pool, runner, 0, "confirm");
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
  ): Promise<Reservation> {
    return this.store.redis.runnerhubTakeSlot(
      this.store.keys.slots("pool", pool.name),
      this.store.keys.slots("engine", this.engine.name),
      this.store.keys.poolOverrides,
      pool.name,
      pool.maxRunners,
      this.engine.capacity ?? -1,
      runner,
      leaseMs,
      mode,
    );
  }
}
