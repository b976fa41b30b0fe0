/**
 * GitHub's secondary rate limit as the simulator enforces it: points per minute per installation
 * token (a GET costs 1, any other method 5; the app's JWT counts as "app"), over a sliding minute.
 * GitHub keeps it per token, so one installation spending its points never refuses another's.
 */
export class SecondaryLimit {
  private readonly spent = new Map<string, { at: number; points: number }[]>();
  private readonly refused = new Map<string, number>();
  private readonly granted = new Map<string, { at: number; method: string; path: string }[]>();

  constructor(
    private readonly pointsPerMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Spends the request's points, or says how many seconds to wait (retry-after) when the minute's are gone. */
  spend(installation: string, method: string, path: string): number | undefined {
    const now = this.now();
    const cost = method === "GET" || method === "HEAD" ? 1 : 5;
    const window = (this.spent.get(installation) ?? []).filter((entry) => entry.at > now - 60_000);
    const used = window.reduce((sum, entry) => sum + entry.points, 0);
    if (used + cost > this.pointsPerMinute) {
      this.refused.set(installation, (this.refused.get(installation) ?? 0) + 1);
      this.spent.set(installation, window);
      return Math.max(1, Math.ceil(((window[0]?.at ?? now) + 60_000 - now) / 1000));
    }
    window.push({ at: now, points: cost });
    this.spent.set(installation, window);
    const log = this.granted.get(installation) ?? [];
    log.push({ at: now, method, path });
    this.granted.set(installation, log);
    return undefined;
  }

  /** Requests refused per installation since the limit was set. */
  refusals(): Record<string, number> {
    return Object.fromEntries(this.refused);
  }

  /** The requests let through for one installation, oldest first. */
  requests(installation: string): { at: number; method: string; path: string }[] {
    return [...(this.granted.get(installation) ?? [])];
  }
}
