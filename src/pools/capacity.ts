import type { Redis } from "ioredis";

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

// Slots are sorted sets of runner names scored by lease expiry: a reservation holds a lease until
// its container has started, then +inf until the container is gone. Pruning expired leases and
// counting happen inside one script, so no two processes can take the last slot. Time is Redis'
// own clock, so hosts with skewed clocks cannot prune each other's live leases.
// Modes: "reserve" takes a lease; "check" only answers; "confirm" makes the slot permanent, and
// takes it afresh (if there is room) when the lease ran out while the container was being made.
const SLOT_SCRIPT = `
local poolSlots, engineSlots, overrides = KEYS[1], KEYS[2], KEYS[3]
local pool, fileMax, capacity, runner, leaseMs, mode = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5]), ARGV[6]
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call("ZREMRANGEBYSCORE", poolSlots, "-inf", "(" .. now)
redis.call("ZREMRANGEBYSCORE", engineSlots, "-inf", "(" .. now)
local held = redis.call("ZSCORE", poolSlots, runner)
if not held then
  local max = fileMax
  local override = redis.call("HGET", overrides, pool)
  if override then
    local decoded = cjson.decode(override)
    if type(decoded.maxRunners) == "number" then max = decoded.maxRunners end
  end
  if redis.call("ZCARD", poolSlots) >= max then return "pool-full" end
  if capacity >= 0 and redis.call("ZCARD", engineSlots) >= capacity then return "engine-full" end
  if mode == "check" then return "ok" end
end
if mode == "confirm" then
  redis.call("ZADD", poolSlots, "+inf", runner)
  redis.call("ZADD", engineSlots, "+inf", runner)
elseif not held then
  redis.call("ZADD", poolSlots, now + leaseMs, runner)
  redis.call("ZADD", engineSlots, now + leaseMs, runner)
end
return "ok"
`;

const POP_OLDEST_SCRIPT = `
local popped = redis.call("ZPOPMIN", KEYS[1])
if #popped == 0 then return false end
return popped[1]
`;

/**
 * Hard per-pool and per-engine ceilings on runner containers, shared by every worker process
 * through Redis; and the parking lot of demand that waits for a slot.
 */
export class Capacity {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly overridesKey: string,
  ) {}

  private poolKey(pool: string) {
    return `${this.prefix}:slots:pool:${pool}`;
  }

  private engineKey(engine: string) {
    return `${this.prefix}:slots:engine:${engine}`;
  }

  private parkedKey(kind: "pool" | "engine", name: string) {
    return `${this.prefix}:parked:${kind}:${name}`;
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
    return (await this.redis.eval(
      SLOT_SCRIPT,
      3,
      this.poolKey(request.pool),
      this.engineKey(request.engine),
      this.overridesKey,
      request.pool,
      request.fileMaxRunners,
      request.engineCapacity ?? -1,
      request.runner,
      request.leaseMs,
      mode,
    )) as Reservation;
  }

  async release(pool: string, engine: string, runner: string): Promise<void> {
    await this.redis.multi().zrem(this.poolKey(pool), runner).zrem(this.engineKey(engine), runner).exec();
  }

  /** Runners holding a slot of the pool (reserved or running), expired leases excluded. */
  async holders(pool: string, now: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.poolKey(pool), now, "+inf");
  }

  /** Runners whose container started and who hold their slot until released. */
  async confirmedHolders(kind: "pool" | "engine", name: string): Promise<string[]> {
    return this.redis.zrangebyscore(kind === "pool" ? this.poolKey(name) : this.engineKey(name), "+inf", "+inf");
  }

  /** Frees one slot of one pool or engine, for repairs where the other side is unknown. */
  async releaseFrom(kind: "pool" | "engine", name: string, runner: string): Promise<void> {
    await this.redis.zrem(kind === "pool" ? this.poolKey(name) : this.engineKey(name), runner);
  }

  /** Remembers a queue entry that waits for a slot, oldest demand first. */
  async park(kind: "pool" | "engine", name: string, queueJobId: string, queuedAt: number): Promise<void> {
    await this.redis.zadd(this.parkedKey(kind, name), queuedAt, queueJobId);
  }

  /** Takes the oldest waiting entry, if any. */
  async popParked(kind: "pool" | "engine", name: string): Promise<string | undefined> {
    const id = (await this.redis.eval(POP_OLDEST_SCRIPT, 1, this.parkedKey(kind, name))) as string | null;
    return id ?? undefined;
  }

  async parkedCount(kind: "pool" | "engine", name: string): Promise<number> {
    return this.redis.zcard(this.parkedKey(kind, name));
  }
}
