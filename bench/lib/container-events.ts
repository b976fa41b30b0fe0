import { EventEmitter } from "node:events";
import type Dockerode from "dockerode";

export interface ContainerEvent {
  action: string;
  containerId: string;
  /** the container's labels (Docker puts them in Actor.Attributes, next to name and image) */
  attributes: Record<string, string>;
  /** engine time of the event, epoch milliseconds (from timeNano) */
  atMs: number;
}

interface RawEvent {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  timeNano?: number;
}

type EventStream = NodeJS.ReadableStream & { destroy(): void };

/**
 * Follows `docker events` for containers carrying one label and keeps every event, so a wait that
 * starts after its event already arrived still sees it. Times come from the engine, not from
 * when this process read the stream.
 */
export class ContainerEvents {
  readonly seen: ContainerEvent[] = [];
  private readonly emitter = new EventEmitter();
  private failure: Error | undefined;

  private constructor(private readonly stream: EventStream) {
    this.emitter.setMaxListeners(0);
    let buffered = "";
    stream.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        if (line.trim() !== "") this.push(JSON.parse(line) as RawEvent);
      }
    });
    const fail = (error: Error): void => {
      this.failure ??= error;
      this.emitter.emit("change");
    };
    stream.on("error", fail);
    stream.on("end", () => fail(new Error("the docker events stream ended")));
  }

  static async follow(docker: Dockerode, label: string): Promise<ContainerEvents> {
    const stream = (await docker.getEvents({
      filters: { type: ["container"], event: ["start", "die", "destroy"], label: [label] },
    })) as EventStream;
    return new ContainerEvents(stream);
  }

  private push(raw: RawEvent): void {
    if (raw.Type !== "container" || raw.Action === undefined || raw.Actor?.ID === undefined) return;
    this.seen.push({
      action: raw.Action,
      containerId: raw.Actor.ID,
      attributes: raw.Actor.Attributes ?? {},
      // timeNano is ~1.7e18, past 2^53: the double keeps a few hundred ns of precision, plenty for ms.
      atMs: (raw.timeNano ?? 0) / 1e6,
    });
    this.emitter.emit("change");
  }

  /** Resolves with the first `count` events matching `predicate`, in arrival order. */
  waitForAll(
    predicate: (event: ContainerEvent) => boolean,
    count: number,
    timeoutMs: number,
    what: string,
  ): Promise<ContainerEvent[]> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const matched = this.seen.filter(predicate);
        if (matched.length >= count) {
          cleanup();
          resolve(matched.slice(0, count));
        } else if (this.failure !== undefined) {
          cleanup();
          reject(new Error(`waiting for ${what}: ${this.failure.message}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        const got = this.seen.filter(predicate).length;
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (saw ${got} of ${count})`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.emitter.off("change", check);
      };
      this.emitter.on("change", check);
      check();
    });
  }

  async waitFor(
    predicate: (event: ContainerEvent) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<ContainerEvent> {
    const [event] = await this.waitForAll(predicate, 1, timeoutMs, what);
    if (event === undefined) throw new Error(`no event for ${what}`);
    return event;
  }

  close(): void {
    this.stream.destroy();
  }
}
