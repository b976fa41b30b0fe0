/**
 * Failed dashboard logins per client address, in fixed windows: once an address failed `limit`
 * times within `windowMs` of its first failure, every login from it waits for the window's end.
 * Kept in memory per process (a guesser spread over several processes gets each one's limit),
 * at most `maxAddresses` of them.
 */

export interface LoginThrottleLimits {
  limit: number;
  windowMs: number;
  maxAddresses: number;
}

export interface LoginThrottle {
  /** How long the address must wait before it may try again; undefined: it may try now. */
  waitMs(address: string, now: number): number | undefined;
  failed(address: string, now: number): void;
  succeeded(address: string): void;
}

export function createLoginThrottle(limits: LoginThrottleLimits): LoginThrottle {
  const windows = new Map<string, { startedAt: number; failures: number }>();

  function current(address: string, now: number) {
    const window = windows.get(address);
    if (window && now - window.startedAt >= limits.windowMs) {
      windows.delete(address);
      return undefined;
    }
    return window;
  }

  return {
    waitMs(address, now) {
      const window = current(address, now);
      if (!window || window.failures < limits.limit) return undefined;
      return window.startedAt + limits.windowMs - now;
    },

    failed(address, now) {
      const window = current(address, now);
      if (window) {
        window.failures += 1;
        return;
      }
      windows.set(address, { startedAt: now, failures: 1 });
      // Maps keep insertion order: the first key is the window opened longest ago.
      if (windows.size > limits.maxAddresses) {
        const oldest = windows.keys().next().value;
        if (oldest !== undefined) windows.delete(oldest);
      }
    },

    succeeded(address) {
      windows.delete(address);
    },
  };
}
