import type { ImageRecord } from "./policy.js";
import type { StoreContext } from "../state/store-context.js";

/** What runnerhub knows about runner images per engine, and the per-image-and-credentials pull lock. */
export class ImageStore {
  constructor(private readonly store: StoreContext) {}

  /** `|` cannot appear in an image reference. */
  private field(engine: string, image: string): string {
    return `${engine}|${image}`;
  }

  async get(engine: string, image: string): Promise<ImageRecord | undefined> {
    const text = await this.store.redis.hget(this.store.keys.images, this.field(engine, image));
    return text === null ? undefined : (JSON.parse(text) as ImageRecord);
  }

  async list(): Promise<ImageRecord[]> {
    const all = await this.store.redis.hvals(this.store.keys.images);
    return all.map((text) => JSON.parse(text) as ImageRecord);
  }

  async put(record: ImageRecord): Promise<void> {
    await this.store.redis.hset(
      this.store.keys.images,
      this.field(record.engine, record.image),
      JSON.stringify(record),
    );
  }

  async forget(engine: string, image: string): Promise<void> {
    await this.store.redis.hdel(this.store.keys.images, this.field(engine, image));
  }

  /**
   * One pull of an image per engine and credentials at a time, across processes (credentials: the
   * `auths` entry's name, "" for an anonymous pull); a dead holder blocks others for ttlMs at most.
   */
  async lock(engine: string, image: string, credentials: string, token: string, ttlMs: number): Promise<boolean> {
    return (
      (await this.store.redis.set(this.store.keys.pullLock(engine, image, credentials), token, "PX", ttlMs, "NX")) ===
      "OK"
    );
  }

  async renew(engine: string, image: string, credentials: string, token: string, ttlMs: number): Promise<boolean> {
    return (
      (await this.store.redis.runnerhubRenewLock(
        this.store.keys.pullLock(engine, image, credentials),
        token,
        ttlMs,
      )) === 1
    );
  }

  async unlock(engine: string, image: string, credentials: string, token: string): Promise<void> {
    await this.store.redis.runnerhubReleaseLock(this.store.keys.pullLock(engine, image, credentials), token);
  }

  async isLocked(engine: string, image: string, credentials: string): Promise<boolean> {
    return (await this.store.redis.exists(this.store.keys.pullLock(engine, image, credentials))) === 1;
  }
}
