import { Redis } from "ioredis";
import type { TestProject } from "vitest/node";
import { buildStubImage, STUB_IMAGE_TAG } from "../sim/stub-image.js";
import { DockerEngine, dockerClient } from "./docker-engine.js";
import { RedisServer } from "./redis-server.js";

const EXTERNAL_CHECK_MS = 10_000;

type Stop = () => Promise<void>;

function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function checkExternalRedis(url: string): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: EXTERNAL_CHECK_MS, retryStrategy: () => null });
  // Kept for the message: connect() itself only rejects with "Connection is closed".
  let socketError: Error | undefined;
  client.on("error", (err: Error) => {
    socketError = err;
  });
  try {
    await withDeadline(
      client.connect().then(() => client.ping()),
      EXTERNAL_CHECK_MS,
      `Redis at ${url}`,
    );
  } catch (err) {
    throw socketError ?? err;
  } finally {
    client.disconnect();
  }
}

async function useRedis(stops: Stop[]): Promise<string> {
  const external = process.env.RUNNERHUB_TEST_REDIS_URL;
  if (external) {
    try {
      await checkExternalRedis(external);
    } catch (err) {
      throw new Error(`RUNNERHUB_TEST_REDIS_URL=${external} does not answer PING: ${reason(err)}`);
    }
    return external;
  }
  const server = await RedisServer.start();
  stops.push(() => server.stop());
  return server.url;
}

async function useDocker(stops: Stop[]): Promise<string> {
  const external = process.env.RUNNERHUB_TEST_DOCKER_HOST;
  if (external) {
    try {
      await withDeadline(dockerClient(external).ping(), EXTERNAL_CHECK_MS, `Docker engine at ${external}`);
    } catch (err) {
      throw new Error(`RUNNERHUB_TEST_DOCKER_HOST=${external} does not answer /_ping: ${reason(err)}`);
    }
    return external;
  }
  const engine = await DockerEngine.start();
  stops.push(() => engine.destroy());
  return engine.dockerHost;
}

/**
 * Vitest global setup: provides a real Redis and a real Docker engine (reusing the ones named
 * by RUNNERHUB_TEST_REDIS_URL / RUNNERHUB_TEST_DOCKER_HOST, otherwise starting private ones)
 * and builds the stub runner image on that engine. A missing service fails the run; tests are
 * never skipped for it.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stops: Stop[] = [];
  const teardown = async (): Promise<void> => {
    const failures: unknown[] = [];
    for (const stop of stops.splice(0).reverse()) {
      try {
        await stop();
      } catch (err) {
        failures.push(err);
      }
    }
    if (failures.length > 0) throw new AggregateError(failures, "test services did not stop cleanly");
  };

  try {
    const redisUrl = await useRedis(stops);
    const dockerHost = await useDocker(stops);
    try {
      await buildStubImage(dockerClient(dockerHost), STUB_IMAGE_TAG);
    } catch (err) {
      throw new Error(`could not build the stub runner image ${STUB_IMAGE_TAG} on ${dockerHost}: ${reason(err)}`);
    }
    project.provide("redisUrl", redisUrl);
    project.provide("dockerHost", dockerHost);
    project.provide("stubImage", STUB_IMAGE_TAG);
  } catch (err) {
    await teardown();
    throw new Error(`runnerhub test services are not available: ${reason(err)}`, { cause: err });
  }
  return teardown;
}
