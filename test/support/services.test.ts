import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type Dockerode from "dockerode";
import { Redis } from "ioredis";
import { describe, expect, inject, it } from "vitest";
import { DockerEngine, dockerClient } from "./docker-engine.js";
import { RedisServer } from "./redis-server.js";

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A layer-less image built FROM scratch, enough to create (not run) a container. */
async function buildEmptyImage(docker: Dockerode, tag: string): Promise<void> {
  const context = await mkdtemp(path.join(tmpdir(), "rh-ctx-"));
  try {
    await writeFile(path.join(context, "Dockerfile"), 'FROM scratch\nLABEL runnerhub.test="services"\n');
    const stream = await docker.buildImage({ context, src: ["Dockerfile"] }, { t: tag });
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(stream, (err: Error | null, output: { error?: string }[]) => {
        const failure = err?.message ?? output.find((event) => event.error !== undefined)?.error;
        if (failure === undefined) resolve();
        else reject(new Error(`building ${tag} failed: ${failure}`));
      });
    });
  } finally {
    await rm(context, { recursive: true, force: true });
  }
}

describe("injected test services", () => {
  it("Redis answers PING", async () => {
    const redis = new Redis(inject("redisUrl"), { maxRetriesPerRequest: null });
    try {
      await expect(redis.ping()).resolves.toBe("PONG");
    } finally {
      redis.disconnect();
    }
  });

  it("the Docker engine has the stub runner image", async () => {
    const docker = dockerClient(inject("dockerHost"));
    const images = await docker.listImages();
    const tags = images.flatMap((image) => image.RepoTags ?? []);
    expect(tags).toContain(inject("stubImage"));
  });
});

describe("RedisServer", () => {
  it("starts on a loopback port and stops by pid", async () => {
    const server = await RedisServer.start();
    expect(server.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    expect(isAlive(server.pid)).toBe(true);
    await server.stop();
    expect(isAlive(server.pid)).toBe(false);
  });
});

describe("DockerEngine", () => {
  it("keeps its containers across stop and restart, and destroy removes its folder", async () => {
    const engine = await DockerEngine.start();
    try {
      expect(engine.dockerHost).toBe(`unix://${engine.socketPath}`);
      const docker = engine.client();
      await buildEmptyImage(docker, "runnerhub-services-test:empty");
      const container = await docker.createContainer({
        Image: "runnerhub-services-test:empty",
        Cmd: ["/never-run"],
        HostConfig: { NetworkMode: "none" },
      });

      const firstPid = engine.pid;
      expect(firstPid).toBeDefined();
      await engine.stop();
      expect(engine.running).toBe(false);
      expect(isAlive(firstPid ?? 0)).toBe(false);
      await expect(docker.ping()).rejects.toThrow();

      await engine.restart();
      expect(engine.pid).not.toBe(firstPid);
      const listed = await engine.client().listContainers({ all: true });
      expect(listed.map((c) => c.Id)).toContain(container.id);
    } finally {
      await engine.destroy();
    }
    expect(engine.running).toBe(false);
    expect(existsSync(engine.runDir)).toBe(false);
  });
});
