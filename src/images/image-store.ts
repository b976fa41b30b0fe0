import type { Redis } from "ioredis";
import type { ImageRecord } from "./policy.js";
import { RedisKeys } from "../state/keys.js";
import { defineScripts } from "../state/scripts/index.js";

/** What runnerhub knows about runner images per engine, and the per-image-and-credentials pull lock. */
export class ImageStore {
  private readonly keys: RedisKeys;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = new RedisKeys(prefix);
    defineScripts(redis);
  }

  /** `|` cannot appear in an image reference. */
  private field(engine: string, image: string): string {
    return `${engine}|${image}`;
  }

  async get(engine: string, image: string): Promise<ImageRecord | undefined> {
    const text = await this.redis.hget(this.keys.images, this.field(engine, image));
    return text === null ? undefined : (JSON.parse(text) as ImageRecord);
  }

  async list(): Promise<ImageRecord[]> {
    const all = await this.redis.hvals(this.keys.images);
    return all.map((text) => JSON.parse(text) as ImageRecord);
  }

  async put(record: ImageRecord): Promise<void> {
    await this.redis.hset(this.keys.images, this.field(record.engine, record.image), JSON.stringify(record));
  }

  async forget(engine: string, image: string): Promise<void> {
    await this.redis.hdel(this.keys.images, this.field(engine, image));
  }

  /**
   * One pull of an image per engine and credentials at a time, across processes (credentials: the
   * `auths` entry's name, "" for an anonymous pull); a dead holder blocks others for ttlMs at most.
   */
  async lock(engine: string, image: string, credentials: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.keys.pullLock(engine, image, credentials), token, "PX", ttlMs, "NX")) === "OK";
  }

  async renew(engine: string, image: string, credentials: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.runnerhubRenewLock(this.keys.pullLock(engine, image, credentials), token, ttlMs)) === 1;
  }

  async unlock(engine: string, image: string, credentials: string, token: string): Promise<void> {
    await this.redis.runnerhubReleaseLock(this.keys.pullLock(engine, image, credentials), token);
  }

  async isLocked(engine: string, image: string, credentials: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.pullLock(engine, image, credentials))) === 1;
  }
}
