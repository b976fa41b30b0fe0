import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createLiveHub, overviewKey } from "../../../../src/admin/dashboard/live.js";
import type { Overview } from "../../../../src/admin/schemas.js";
import { createLogger } from "../../../../src/observability/logger.js";

function overview(at: number, runners: number): Overview {
  return {
    at,
    pools: [],
    engines: [],
    runners: Array.from({ length: runners }, (_, index) => ({
      name: `r${index}`,
      pool: "p",
      engine: "e",
      state: "idle" as const,
      installationId: 1,
      scope: { kind: "org" as const, org: "o" },
      jobId: 1,
      runnerId: null,
      containerId: null,
      busyJobId: null,
      createdAt: 0,
      completedAt: null,
      retiring: null,
      repository: null,
    })),
    queue: { queue: "provision", counts: { waiting: 0, delayed: 0, active: 0, completed: 0, failed: 0 } },
    events: [],
    history: [],
  };
}

describe("overviewKey", () => {
  it("ignores only the moment of reading", () => {
    expect(overviewKey(overview(1, 1))).toBe(overviewKey(overview(2, 1)));
    expect(overviewKey(overview(1, 1))).not.toBe(overviewKey(overview(1, 2)));
  });
});

describe("the live hub", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function hub(state: { tip: string; runners: number; reads: number }) {
    return createLiveHub({
      read: async () => {
        state.reads += 1;
        return overview(Date.now(), state.runners);
      },
      tip: async () => state.tip,
      pollMs: 100,
      refreshMs: 1_000,
      log: createLogger("silent"),
      now: () => Date.now(),
    });
  }

  it("reads only while someone listens, re-reads when the feed moves, and passes on only changes", async () => {
    const state = { tip: "1-0", runners: 0, reads: 0 };
    const live = hub(state);
    await vi.advanceTimersByTimeAsync(500);
    expect(state.reads).toBe(0);

    const seen: number[] = [];
    const unsubscribe = live.subscribe((o) => seen.push(o.runners.length));
    await vi.advanceTimersByTimeAsync(100);
    expect(seen).toEqual([0]);

    // Same tip within refreshMs: no read at all.
    await vi.advanceTimersByTimeAsync(300);
    expect(state.reads).toBe(1);

    state.tip = "2-0";
    state.runners = 1;
    await vi.advanceTimersByTimeAsync(100);
    expect(seen).toEqual([0, 1]);

    // After refreshMs it reads again, but an unchanged picture is not sent.
    await vi.advanceTimersByTimeAsync(1_100);
    expect(state.reads).toBe(3);
    expect(seen).toEqual([0, 1]);

    unsubscribe();
    const readsWhenAlone = state.reads;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(state.reads).toBe(readsWhenAlone);
    await live.stop();
  });

  it("keeps going after a failed read", async () => {
    const state = { tip: "1-0", runners: 0, reads: 0 };
    let fail = true;
    const live = createLiveHub({
      read: async () => {
        if (fail) throw new Error("redis away");
        return overview(0, 2);
      },
      tip: async () => state.tip,
      pollMs: 100,
      refreshMs: 150,
      log: createLogger("silent"),
      now: () => Date.now(),
    });
    const seen: number[] = [];
    live.subscribe((o) => seen.push(o.runners.length));
    await vi.advanceTimersByTimeAsync(100);
    fail = false;
    await vi.advanceTimersByTimeAsync(300);
    expect(seen).toEqual([2]);
    await live.stop();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(seen).toEqual([2]);
  });
});
