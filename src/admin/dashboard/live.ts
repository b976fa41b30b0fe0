import type { Logger } from "pino";
import type { Overview } from "../schemas.js";

export interface LiveDeps {
  read(): Promise<Overview>;
  /** Changes whenever the event feed gets an entry (its newest id): cheap to ask often. */
  tip(): Promise<string>;
  /** How often the tip is checked while someone watches. */
  pollMs: number;
  /** The longest an overview goes unread while someone watches (queue depth and ages move without events). */
  refreshMs: number;
  log: Logger;
  now: () => number;
}

export interface LiveHub {
  /** Calls listener with every changed overview; returns the unsubscribe. */
  subscribe(listener: (overview: Overview) => void): () => void;
  /** Stops reading and waits for a read under way. */
  stop(): Promise<void>;
}

/**
 * Two overviews differ when anything but the moment they were read differs; heartbeat ages grow
 * by themselves (the page counts them), so only an engine's health going stale is a change, and
 * the charts' window moves with the clock, so only a new sample or pickup is.
 */
export function overviewKey(overview: Overview): string {
  return JSON.stringify({
    ...overview,
    at: 0,
    engines: overview.engines.map((engine) => ({ ...engine, lastBeatMs: null })),
    history: overview.history.map((pool) => ({ ...pool, from: 0, to: 0 })),
  });
}

/**
 * One reader per process, however many dashboards are open: while anyone listens it re-reads the
 * overview as soon as the event feed moves (or every refreshMs), and passes on what changed.
 */
export function createLiveHub(deps: LiveDeps): LiveHub {
  const listeners = new Set<(overview: Overview) => void>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  let lastTip: string | undefined;
  let lastRead = 0;
  let lastKey: string | undefined;

  async function tick(): Promise<void> {
    const tip = await deps.tip();
    if (tip === lastTip && deps.now() - lastRead < deps.refreshMs) return;
    lastTip = tip;
    lastRead = deps.now();
    const overview = await deps.read();
    const key = overviewKey(overview);
    if (key === lastKey) return;
    lastKey = key;
    for (const listener of listeners) listener(overview);
  }

  function schedule(): void {
    if (stopped || timer || listeners.size === 0) return;
    timer = setTimeout(() => {
      running = tick()
        .catch((error: unknown) => deps.log.warn({ err: error }, "dashboard update failed; will retry"))
        .finally(() => {
          timer = undefined;
          running = undefined;
          schedule();
        });
    }, deps.pollMs);
  }

  return {
    subscribe(listener) {
      listeners.add(listener);
      schedule();
      return () => {
        listeners.delete(listener);
        // With nobody watching the next read would be stale anyway.
        if (listeners.size === 0) lastKey = undefined;
      };
    },
    async stop() {
      stopped = true;
      listeners.clear();
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
