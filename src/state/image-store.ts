import type { Redis } from "ioredis";
import type { ImageRecord } from "../images/policy.js";

const RELEASE_IF_OWNER = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`;
const RENEW_IF_OWNER = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end return 0`;

/** What runnerhub knows about runner images per engine, and the per-image pull lock. */
export class ImageStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** One hash for every engine: the admin API reads them all at once. */
  private get key(): string {
    return `${this.prefix}:images`;
  }

  /** `|` cannot appear in an image reference. */
  private field(engine: string, image: string): string {
    return `${engine}|${image}`;
  }

  private lockKey(engine: string, image: string): string {
    return `${this.prefix}:lock:pull:${engine}|${image}`;
  }

  async get(engine: string, image: string): Promise<ImageRecord | undefined> {
    const text = await this.redis.hget(this.key, this.field(engine, image));
    return text === null ? undefined : (JSON.parse(text) as ImageRecord);
  }

  async list(): Promise<ImageRecord[]> {
    const all = await this.redis.hvals(this.key);
    return all.map((text) => JSON.parse(text) as ImageRecord);
  }

  async put(record: ImageRecord): Promise<void> {
    await this.redis.hset(this.key, this.field(record.engine, record.image), JSON.stringify(record));
  }

  async forget(engine: string, image: string): Promise<void> {
    await this.redis.hdel(this.key, this.field(engine, image));
  }

  /** One pull of an image per engine at a time, across processes; the lease outlives a dead holder by ttlMs at most. */
  async lock(engine: string, image: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.lockKey(engine, image), token, "PX", ttlMs, "NX")) === "OK";
  }

  async renew(engine: string, image: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.eval(RENEW_IF_OWNER, 1, this.lockKey(engine, image), token, ttlMs)) === 1;
  }

  async unlock(engine: string, image: string, token: string): Promise<void> {
    await this.redis.eval(RELEASE_IF_OWNER, 1, this.lockKey(engine, image), token);
  }

  async isLocked(engine: string, image: string): Promise<boolean> {
    return (await this.redis.exists(this.lockKey(engine, image))) === 1;
  }
}
