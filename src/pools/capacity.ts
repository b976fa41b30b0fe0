import type { Redis } from "ioredis";
import { RedisKeys } from "../state/keys.js";
import { defineScripts } from "../state/scripts/index.js";

export type Reservation = "ok" | "pool-full" | "engine-full";

export interface ReserveRequest {
  pool: string;
  /** The pool file's maxRunners; a run-time override in Redis takes precedence. */
  fileMaxRunners: number;
  engine: string;
  /** Most runner containers this engine may hold; undefined for no limit. */
  engineCapacity: number | undefined;
  runner: string;
  /** A reservation not confirmed within this time is presumed to belong to a crashed worker. */
  leaseMs: number;
}

/**
 * Hard per-pool and per-engine ceilings on runner containers, shared by every worker process
 * through Redis; and the parking lot of demand that waits for a slot.
 */
export class Capacity {
  private readonly redis: Redis;
  private readonly keys: RedisKeys;

  constructor(redis: Redis, prefix: string) {
    this.redis = defineScripts(redis);
    this.keys = new RedisKeys(prefix);
  }

  async reserve(request: ReserveRequest): Promise<Reservation> {
    return this.run(request, "reserve");
  }

  /** Whether a reservation would succeed now, without taking it. */
  async hasRoom(request: Omit<ReserveRequest, "runner" | "leaseMs">): Promise<boolean> {
    return (await this.run({ ...request, runner: "", leaseMs: 0 }, "check")) === "ok";
  }

  /**
   * The container is running: the slot is held until release. Not "ok" when the lease ran out
   * meanwhile and the slot went to someone else; the caller must then undo the runner.
   */
  async confirm(request: Omit<ReserveRequest, "leaseMs">): Promise<Reservation> {
    return this.run({ ...request, leaseMs: 0 }, "confirm");
  }

  private async run(request: ReserveRequest, mode: "reserve" | "check" | "confirm"): Promise<Reservation> {
    return this.redis.runnerhubTakeSlot(
      this.keys.slots("pool", request.pool),
      this.keys.slots("engine", request.engine),
      this.keys.poolOverrides,
      request.pool,
      request.fileMaxRunners,
      request.engineCapacity ?? -1,
      request.runner,
      request.leaseMs,
      mode,
    );
  }

  async release(pool: string, engine: string, runner: string): Promise<void> {
    await this.redis
      .multi()
      .zrem(this.keys.slots("pool", pool), runner)
      .zrem(this.keys.slots("engine", engine), runner)
      .exec();
  }

  /** Runners holding a slot of the pool (reserved or running), expired leases excluded. */
  async holders(pool: string, now: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.slots("pool", pool), now, "+inf");
  }

  /** Runners whose container started and who hold their slot until released. */
  async confirmedHolders(kind: "pool" | "engine", name: string): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.slots(kind, name), "+inf", "+inf");
  }

  /** Every runner holding a slot of the pool or engine, leases (even expired ones) included. */
  async allHolders(kind: "pool" | "engine", name: string): Promise<string[]> {
    return this.redis.zrange(this.keys.slots(kind, name), "0", "-1");
  }

  /** Frees one slot of one pool or engine, for repairs where the other side is unknown. */
  async releaseFrom(kind: "pool" | "engine", name: string, runner: string): Promise<void> {
    await this.redis.zrem(this.keys.slots(kind, name), runner);
  }

  /** Remembers a queue entry that waits for a slot, oldest demand first. */
  async park(kind: "pool" | "engine", name: string, queueJobId: string, queuedAt: number): Promise<void> {
    await this.redis.zadd(this.keys.parked(kind, name), queuedAt, queueJobId);
  }

  /** Takes the oldest waiting entry, if any. */
  async popParked(kind: "pool" | "engine", name: string): Promise<string | undefined> {
    const id = await this.redis.runnerhubPopOldest(this.keys.parked(kind, name));
    return id ?? undefined;
  }

  async parkedCount(kind: "pool" | "engine", name: string): Promise<number> {
    return this.redis.zcard(this.keys.parked(kind, name));
  }
}
