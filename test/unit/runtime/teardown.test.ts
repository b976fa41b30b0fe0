import { describe, expect, it } from "vitest";
import { TeardownStack } from "../../../src/runtime/teardown.js";

function recorder() {
  const stopped: string[] = [];
  const step = (what: string) => async () => {
    stopped.push(what);
  };
  return { stopped, step };
}

describe("TeardownStack", () => {
  it("stops in reverse order of registration, once", async () => {
    const stack = new TeardownStack();
    const { stopped, step } = recorder();
    stack.defer("redis", step("redis"));
    stack.defer("queues", step("queues"));
    stack.defer("worker", step("worker"));
    await stack.unwind();
    await stack.unwind();
    expect(stopped).toEqual(["worker", "queues", "redis"]);
  });

  it("runs the remaining steps when one fails, then reports the failure by name", async () => {
    const stack = new TeardownStack();
    const { stopped, step } = recorder();
    stack.defer("redis", step("redis"));
    stack.defer("worker", () => Promise.reject(new Error("connection lost")));
    stack.defer("schedules", step("schedules"));
    await expect(stack.unwind()).rejects.toThrow("stopping worker failed: connection lost");
    expect(stopped).toEqual(["schedules", "redis"]);
  });

  it("reports every failing step", async () => {
    const stack = new TeardownStack();
    stack.defer("a", () => Promise.reject(new Error("one")));
    stack.defer("b", () => Promise.reject(new Error("two")));
    await expect(stack.unwind()).rejects.toThrow("stopping b failed: two; stopping a failed: one");
  });

  it("keeps what started when start-up succeeds", async () => {
    const stack = new TeardownStack();
    const { stopped, step } = recorder();
    const result = await stack.startOrUnwind(async () => {
      stack.defer("worker", step("worker"));
      return 42;
    });
    expect(result).toBe(42);
    expect(stopped).toEqual([]);
  });

  it("stops a role started earlier when a later role throws, and rethrows the start-up error", async () => {
    const stack = new TeardownStack();
    const { stopped, step } = recorder();
    const startWorkerRole = async () => {
      stack.defer("provision worker", step("provision worker"));
      stack.defer("runner-ops worker", step("runner-ops worker"));
    };
    const startSchedulesRole = async () => {
      throw new Error("Redis refused the job scheduler");
    };
    const startUp = stack.startOrUnwind(async () => {
      await startWorkerRole();
      await startSchedulesRole();
    });
    await expect(startUp).rejects.toThrow("Redis refused the job scheduler");
    expect(stopped).toEqual(["runner-ops worker", "provision worker"]);
  });

  it("names both the start-up error and a teardown failure", async () => {
    const stack = new TeardownStack();
    stack.defer("redis", () => Promise.reject(new Error("already gone")));
    const startUp = stack.startOrUnwind(() => Promise.reject(new Error("port in use")));
    await expect(startUp).rejects.toThrow("port in use (and then stopping redis failed: already gone)");
  });
});
