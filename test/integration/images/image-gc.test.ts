import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { emptyImageRecord } from "../../../src/images/puller.js";
import { createImageMaintenance } from "../../../src/images/maintenance.js";
import type { ImageRecord } from "../../../src/images/policy.js";
import { serviceContext, testPool, type ServiceContext } from "../support/context.js";

const HOUR = 3600_000;
const REPO = "runnerhub-gc-test";
const tag = (name: string) => `${REPO}/${name}:1`;

let ctx: ServiceContext;
const made: string[] = [];

beforeAll(async () => {
  ctx = await serviceContext();
});

afterAll(async () => {
  for (const id of made)
    await ctx.docker
      .getContainer(id)
      .remove({ force: true })
      .catch(() => undefined);
  for (const name of ["unused", "used", "pool", "local"]) {
    await ctx.docker
      .getImage(tag(name))
      .remove()
      .catch(() => undefined);
  }
  await ctx.flushPrefix();
  await ctx.close();
});

/** A new image of its own (a distinct id), tagged `repo:tag` when given, else untagged. */
async function distinctImage(repo?: string): Promise<string> {
  const source = await ctx.docker.createContainer({
    Image: inject("stubImage"),
    Cmd: ["true"],
    HostConfig: { NetworkMode: "none" },
  });
  try {
    return ((await source.commit(repo === undefined ? {} : { repo, tag: "1" })) as { Id: string }).Id;
  } finally {
    await source.remove({ force: true });
  }
}

/** A tracked image as if runnerhub had pulled it two hours ago and no pool had named it for two. */
function pulled(image: string, fields: Partial<ImageRecord> = {}): ImageRecord {
  const longAgo = Date.now() - 2 * HOUR;
  return { ...emptyImageRecord(ctx.engine.name, image, longAgo), lastPulledAt: longAgo, ...fields };
}

describe("image clean-up on a real engine", () => {
  it("removes only unused runner images runnerhub pulled, and the ids a re-pull left dangling", async () => {
    for (const name of ["unused", "used", "pool", "local"]) await distinctImage(`${REPO}/${name}`);
    // What a moved tag leaves behind: an image without a tag.
    const dangling = await distinctImage();
    // A container that never ran still pins its image.
    const idle = await ctx.docker.createContainer({
      Image: tag("used"),
      Cmd: ["true"],
      HostConfig: { NetworkMode: "none" },
    });
    made.push(idle.id);

    await ctx.imageStore.put(pulled(tag("unused")));
    await ctx.imageStore.put(pulled(tag("used")));
    await ctx.imageStore.put(pulled(tag("pool"), { superseded: [{ id: dangling, at: Date.now() - 2 * HOUR }] }));
    await ctx.imageStore.put(pulled(tag("local"), { lastPulledAt: undefined, seenAt: Date.now() - 2 * HOUR }));

    const maintenance = createImageMaintenance({
      engine: ctx.engine.name,
      images: ctx.imageEngine,
      store: ctx.imageStore,
      puller: ctx.images,
      pools: ctx.poolsOf(() => [testPool({ image: tag("pool"), pull: "never" })]),
      gcAgeMs: HOUR,
      metrics: ctx.metrics,
      log: ctx.log,
      now: Date.now,
    });
    const summary = await maintenance.runOnce();
    expect(summary).toEqual({ ready: 1, unavailable: 0, removed: 2 });

    const present = async (image: string) => (await ctx.imageEngine.imageId(image)) !== undefined;
    expect(await present(tag("unused"))).toBe(false);
    expect(await present(dangling)).toBe(false);
    expect(await present(tag("used"))).toBe(true);
    expect(await present(tag("pool"))).toBe(true);
    expect(await present(tag("local"))).toBe(true);
    expect(await present(inject("stubImage"))).toBe(true);

    const records = new Map((await ctx.imageStore.list()).map((record) => [record.image, record]));
    expect(records.has(tag("unused"))).toBe(false);
    expect(records.get(tag("pool"))?.superseded).toEqual([]);
    expect(records.has(tag("used"))).toBe(true);
    // Never pulled by runnerhub: not its to remove, so no longer tracked once no pool names it.
    expect(records.has(tag("local"))).toBe(false);
    expect(await ctx.metrics.registry.getSingleMetricAsString("runnerhub_images_removed_total")).toMatch(
      /kind="unused"\} 1[\s\S]*kind="superseded"\} 1|kind="superseded"\} 1[\s\S]*kind="unused"\} 1/,
    );
  });
});
