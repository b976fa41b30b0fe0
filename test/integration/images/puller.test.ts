import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RegistryCredential } from "../../../src/config/registry-auth.js";
import type { ImageEngine } from "../../../src/images/image-engine.js";
import { createImagePuller } from "../../../src/images/puller.js";
import { waitFor } from "../../sim/github-simulator.js";
import { serviceContext, testPool, type ServiceContext } from "../support/context.js";

let ctx: ServiceContext;

beforeAll(async () => {
  ctx = await serviceContext();
});

afterEach(async () => {
  await ctx.flushPrefix();
});

afterAll(async () => {
  await ctx.close();
});

const IMAGE = "127.0.0.1:5999/shared/runner:1";
const credential = (username: string): RegistryCredential => ({
  username,
  password: `${username}-password`,
  serveraddress: "127.0.0.1:5999",
});
const auths = new Map([
  ["127.0.0.1:5999", credential("team-a")],
  ["127.0.0.1:5999/shared", credential("team-b")],
]);

/**
 * An engine whose registry lets only team-b pull the image. Each pull waits until the test lets
 * the pulls go, so pulls asked for together are in flight together.
 */
function registryEngine() {
  const pulls: (string | undefined)[] = [];
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  let pulled = false;
  const engine: ImageEngine = {
    imageId: () => Promise.resolve(pulled ? "sha256:0123" : undefined),
    async pull(_image, given) {
      pulls.push(given?.username);
      await released;
      if (given?.username !== "team-b") throw new Error("unauthorized: authentication required");
      pulled = true;
    },
    containerImages: () => Promise.resolve([]),
    removeImage: () => Promise.resolve("missing"),
  };
  return { engine, pulls, release: () => release() };
}

function puller(images: ImageEngine) {
  return createImagePuller({
    engine: "test-engine",
    images,
    store: ctx.imageStore,
    auths,
    refreshMs: 15 * 60_000,
    metrics: ctx.metrics,
    log: ctx.log,
    now: Date.now,
    newToken: () => randomBytes(8).toString("hex"),
  });
}

describe("image pulls of one image with different credentials", () => {
  it("never share a pull: each pool's pull uses its own credentials and gets its own outcome", async () => {
    const registry = registryEngine();
    const images = puller(registry.engine);
    const teamA = testPool({ name: "a", image: IMAGE, registryAuth: "127.0.0.1:5999" });
    const teamB = testPool({ name: "b", image: IMAGE, registryAuth: "127.0.0.1:5999/shared" });
    // No registryAuth: the most specific auths key, the same entry team B names.
    const matched = testPool({ name: "c", image: IMAGE });

    const outcomes = Promise.all([images.ensure(teamA), images.ensure(teamB), images.ensure(matched)]);
    await waitFor(() => registry.pulls.length === 2, {
      timeoutMs: 5_000,
      what: "a pull per set of credentials in flight",
    });
    registry.release();
    const [a, b, c] = await outcomes;

    expect(registry.pulls.sort()).toEqual(["team-a", "team-b"]);
    expect(a).toMatchObject({ kind: "unavailable", failure: { kind: "unauthorized" } });
    expect(b).toEqual({ kind: "ready" });
    // One set of credentials, one pull: pool c waited for team B's.
    expect(c).toEqual({ kind: "ready" });
  });

  it("never makes a pool wait out the backoff of a pull that failed with other credentials", async () => {
    const registry = registryEngine();
    registry.release();
    const images = puller(registry.engine);
    const teamA = testPool({ name: "a", image: IMAGE, registryAuth: "127.0.0.1:5999" });
    const teamB = testPool({ name: "b", image: IMAGE, registryAuth: "127.0.0.1:5999/shared" });

    expect(await images.ensure(teamA)).toMatchObject({ kind: "unavailable", failure: { kind: "unauthorized" } });
    // Team A's failure is backing off; team B pulls at once all the same.
    expect(await images.ensure(teamB)).toEqual({ kind: "ready" });
    expect(registry.pulls).toEqual(["team-a", "team-b"]);
  });
});
