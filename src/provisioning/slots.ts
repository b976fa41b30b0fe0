import type { Queue } from "bullmq";
import type { Logger } from "pino";
import type { Capacity } from "../pools/capacity.js";
import type { ProvisionRequest } from "../queue/jobs.js";
import { MAX_WAKE_TRIES } from "../tunables.js";

export interface SlotKeeper {
  /** Frees a runner's slot and wakes the oldest demand waiting for one. */
  release(pool: string, engine: string, runner: string): Promise<void>;
  /** Wakes the oldest demand parked on this pool or engine. */
  wake(pool: string, engine: string): Promise<boolean>;
  /** Wakes the oldest demand parked on this pool only (its limit was raised). */
  wakePool(pool: string): Promise<boolean>;
}

export function createSlotKeeper(capacity: Capacity, queue: Queue<ProvisionRequest>, log: Logger): SlotKeeper {
  async function wakeOne(kind: "pool" | "engine", name: string): Promise<boolean> {
    for (let tries = 0; tries < MAX_WAKE_TRIES; tries++) {
      const id = await capacity.popParked(kind, name);
      if (!id) return false;
      const job = await queue.getJob(id);
      if (job && (await job.isDelayed())) {
        await job.promote();
        log.debug({ queueJobId: id, [kind]: name }, "parked demand woken");
        return true;
      }
    }
    return false;
  }

  const keeper: SlotKeeper = {
    async release(pool, engine, runner) {
      await capacity.release(pool, engine, runner);
      await keeper.wake(pool, engine);
    },
    async wake(pool, engine) {
      return (await wakeOne("pool", pool)) || (await wakeOne("engine", engine));
    },
    wakePool: (pool) => wakeOne("pool", pool),
  };
  return keeper;
}
