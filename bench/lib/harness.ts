/** What every benchmark entry shares: its log, deadlines and the clean-up of what it started. */

export function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

export function reason(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** Everything the run started, stopped in reverse order exactly once, whatever happened. */
export class Cleanup {
  private readonly steps: { what: string; stop: () => Promise<void> | void }[] = [];
  private running: Promise<void> | undefined;

  add(what: string, stop: () => Promise<void> | void): void {
    this.steps.push({ what, stop });
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.splice(0).reverse()) {
        try {
          await withDeadline(Promise.resolve(step.stop()), 60_000, `stopping ${step.what}`);
        } catch (error) {
          log(`could not stop ${step.what}: ${reason(error)}`);
        }
      }
    })();
    return this.running;
  }
}
