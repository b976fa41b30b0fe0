import { describe, expect, it } from "vitest";
import { countEngineErrors } from "../../../src/docker/counted-engine.js";
import type { ContainerEngine } from "../../../src/docker/engine.js";
import { createMetrics } from "../../../src/observability/metrics.js";

describe("countEngineErrors", () => {
  it("counts failed calls by engine and operation and passes results and errors through", async () => {
    const metrics = createMetrics();
    const failure = new Error("no such image");
    const engine = countEngineErrors(
      {
        name: "e1",
        ping: () => Promise.resolve(),
        startContainer: () => Promise.reject(failure),
        remove: () => Promise.reject(failure),
      } as unknown as ContainerEngine,
      metrics.dockerErrors,
    );
    expect(engine.name).toBe("e1");
    await expect(engine.ping()).resolves.toBeUndefined();
    await expect(engine.startContainer({})).rejects.toBe(failure);
    await expect(engine.startContainer({})).rejects.toBe(failure);
    await expect(engine.remove("c")).rejects.toBe(failure);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^runnerhub_docker_errors_total\{engine="e1",operation="startContainer"\} 2$/m);
    expect(text).toMatch(/^runnerhub_docker_errors_total\{engine="e1",operation="remove"\} 1$/m);
    expect(text).not.toMatch(/operation="ping"/);
  });
});
