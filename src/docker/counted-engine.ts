import type { Counter } from "prom-client";
import type { ContainerEngine } from "./engine.js";

/**
 * The engine with every failed call counted by operation (the method name; calls that return a promise), so one wrapper covers
 * calls added to the adapter later. The error itself still reaches the caller unchanged.
 */
export function countEngineErrors(engine: ContainerEngine, errors: Counter<"engine" | "operation">): ContainerEngine {
  return new Proxy(engine, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== "function" || typeof property !== "string") return value;
      return (...args: unknown[]) => {
        const result: unknown = (value as (...params: unknown[]) => unknown).apply(target, args);
        if (!(result instanceof Promise)) return result;
        return result.catch((error: unknown) => {
          errors.inc({ engine: target.name, operation: property });
          throw error;
        });
      };
    },
  });
}
