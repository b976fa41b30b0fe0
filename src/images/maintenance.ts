import type { Logger } from "pino";
import type { Pool } from "../config/pools.js";
import type { PoolCatalog } from "../pools/catalog.js";
import type { ImageEngine } from "./image-engine.js";
import { reportSwallowed } from "../observability/internal-errors.js";
import type { Metrics } from "../observability/metrics.js";
import type { ImageStore } from "./image-store.js";
import { planImageGc, type ImageGcStep } from "./gc-plan.js";
import type { ImagePuller } from "./puller.js";

export interface ImageMaintenanceDeps {
  engine: string;
  images: ImageEngine;
  store: ImageStore;
  puller: ImagePuller;
  pools: PoolCatalog;
  /** Undefined: unused runner images are never removed. */
  gcAgeMs: number | undefined;
  metrics: Metrics;
  log: Logger;
  now: () => number;
}

export interface ImageMaintenanceSummary {
  ready: number;
  unavailable: number;
  removed: number;
}

/** One pool per image; `always` wins, so a shared image is kept fresh if any pool asks for it. */
function poolPerImage(pools: readonly Pool[]): Pool[] {
  const byImage = new Map<string, Pool>();
  for (const pool of pools) {
    const seen = byImage.get(pool.image);
    if (!seen || (pool.pull === "always" && seen.pull !== "always")) byImage.set(pool.image, pool);
  }
  return [...byImage.values()];
}

/**
 * The periodic image pass of one engine (at worker start, then every refresh interval): pulls
 * pool images the engine lacks, re-pulls `always` images, and removes runner images no pool uses.
 */
export function createImageMaintenance(deps: ImageMaintenanceDeps) {
  const { engine, images, store, log } = deps;

  async function markPoolImages(pools: readonly Pool[], now: number): Promise<void> {
    for (const pool of pools) {
      const record = await store.get(engine, pool.image);
      if (record) await store.put({ ...record, poolImageAt: now });
    }
  }

  async function carryOut(step: ImageGcStep): Promise<boolean> {
    const record = await store.get(engine, step.image);
    if (!record) return false;
    switch (step.kind) {
      case "forget":
        await store.forget(engine, step.image);
        return false;
      case "forget-superseded":
        await store.put({ ...record, superseded: record.superseded.filter((old) => old.id !== step.id) });
        return false;
      case "remove-superseded": {
        const outcome = await images.removeImage(step.id);
        // A conflict here means the id got a tag of its own or a child image: no longer ours.
        await store.put({ ...record, superseded: record.superseded.filter((old) => old.id !== step.id) });
        if (outcome !== "removed") return false;
        deps.metrics.imagesRemoved.inc({ kind: "superseded" });
        log.info({ engine, image: step.image, imageId: step.id }, "superseded runner image removed");
        return true;
      }
      case "remove-reference": {
        const outcome = await images.removeImage(step.image);
        // In use: a container was made from it since the plan; a later pass looks again.
        if (outcome === "in-use") return false;
        await store.forget(engine, step.image);
        if (outcome !== "removed") return false;
        deps.metrics.imagesRemoved.inc({ kind: "unused" });
        log.info({ engine, image: step.image }, "runner image no pool uses removed");
        return true;
      }
    }
  }

  async function collectGarbage(pools: readonly Pool[], ageMs: number): Promise<number> {
    const tracked = await Promise.all(
      (await store.list())
        .filter((record) => record.engine === engine)
        .map(async (record) => ({ record, localId: await images.imageId(record.image) })),
    );
    const steps = planImageGc({
      tracked,
      poolImages: new Set(pools.map((pool) => pool.image)),
      containers: await images.containerImages(),
      now: deps.now(),
      ageMs,
    });
    let removed = 0;
    for (const step of steps) {
      try {
        if (await carryOut(step)) removed++;
      } catch (error) {
        reportSwallowed({ log, metrics: deps.metrics }, error, {
          where: "images.clean-up-step",
          message: "image clean-up step failed; the next pass tries again",
          fields: { engine, step },
        });
      }
    }
    return removed;
  }

  return {
    async runOnce(): Promise<ImageMaintenanceSummary> {
      const pools = deps.pools.declared();
      await markPoolImages(pools, deps.now());
      let ready = 0;
      let unavailable = 0;
      for (const pool of poolPerImage(pools)) {
        const outcome = await deps.puller.ensure(pool, { refresh: true });
        if (outcome.kind === "ready") ready++;
        else unavailable++;
      }
      const removed = deps.gcAgeMs === undefined ? 0 : await collectGarbage(pools, deps.gcAgeMs);
      return { ready, unavailable, removed };
    },
  };
}

export type ImageMaintenance = ReturnType<typeof createImageMaintenance>;
