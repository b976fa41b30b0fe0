import type { Logger } from "pino";
import { z } from "zod";
import { reportSwallowed } from "../observability/internal-errors.js";
import type { Metrics } from "../observability/metrics.js";
import { FEED_MAX_LENGTH } from "../tunables.js";
import type { StoreContext } from "./store-context.js";

/**
 * A short, bounded history of what happened to jobs and runners, for the dashboard's timeline:
 * one Redis stream (capped with MAXLEN) that every process appends to. It is a view, not a source
 * of truth: nothing reads it to decide anything, so a lost entry costs a line in the timeline.
 */

export const FEED_EVENT_KINDS = [
  "queued",
  "runner-created",
  "took-job",
  "completed",
  "crashed",
  "oom-killed",
  "removed",
  "overflowed",
] as const;
export type FeedEventKind = (typeof FEED_EVENT_KINDS)[number];

export const feedEventSchema = z.object({
  kind: z.enum(FEED_EVENT_KINDS),
  /** ms since the epoch, on the clock of the process that wrote it. */
  at: z.int(),
  pool: z.string(),
  runnerName: z.string().optional(),
  engine: z.string().optional(),
  jobId: z.int().optional(),
  /** owner/repo of the job. */
  repository: z.string().optional(),
  /** Why a runner ended (exit reason or why runnerhub retired it), or a job's conclusion. */
  reason: z.string().optional(),
});
export type FeedEvent = z.output<typeof feedEventSchema>;

export const feedEntrySchema = feedEventSchema.extend({ id: z.string() });
export type FeedEntry = z.output<typeof feedEntrySchema>;

/** What intake, provisioning and the exit watcher write to; it never throws (the timeline is not worth failing work for). */
export interface EventFeed {
  record(event: Omit<FeedEvent, "at">): Promise<void>;
}

/** The timeline entry for a runner that ended, by its exit reason. */
export function exitEventKind(reason: string): FeedEventKind {
  if (reason === "crashed" || reason === "runner-outdated") return "crashed";
  if (reason === "oom-killed") return "oom-killed";
  return "removed";
}

/** Entries as XRANGE answers them; one that does not parse (written by another version) is left out. */
export function parseEntries(raw: readonly [string, readonly string[]][]): FeedEntry[] {
  return raw.flatMap(([id, fields]) => {
    const index = fields.indexOf("event");
    if (index < 0 || index % 2 !== 0) return [];
    try {
      const parsed = feedEventSchema.safeParse(JSON.parse(fields[index + 1] ?? ""));
      return parsed.success ? [{ ...parsed.data, id }] : [];
    } catch {
      return [];
    }
  });
}

export class RedisEventFeed implements EventFeed {
  private readonly key: string;

  constructor(
    private readonly store: StoreContext,
    private readonly log: Logger,
    private readonly now: () => number,
    /** Counts entries that could not be added (runnerhub_internal_errors_total). */
    private readonly metrics: Pick<Metrics, "internalErrors">,
  ) {
    this.key = store.keys.events;
  }

  async record(event: Omit<FeedEvent, "at">): Promise<void> {
    const entry: FeedEvent = { ...event, at: this.now() };
    try {
      // "~" lets Redis trim whole macro nodes, which is much cheaper than an exact cap.
      await this.store.redis.xadd(this.key, "MAXLEN", "~", FEED_MAX_LENGTH, "*", "event", JSON.stringify(entry));
    } catch (error) {
      // The timeline is for people; what it would have said is in the logs of the caller too.
      reportSwallowed({ log: this.log, metrics: this.metrics }, error, {
        where: "event-feed.record",
        message: "could not add to the event feed",
        fields: { event: event.kind, pool: event.pool },
      });
    }
  }

  /** The newest entries, newest first. */
  async recent(count: number): Promise<FeedEntry[]> {
    return parseEntries(await this.store.redis.xrevrange(this.key, "+", "-", "COUNT", count));
  }

  /** The id of the newest entry ("" when empty): it changes whenever something is recorded. */
  async lastId(): Promise<string> {
    const [newest] = await this.store.redis.xrevrange(this.key, "+", "-", "COUNT", 1);
    return newest?.[0] ?? "";
  }
}
