/**
 * What start-up started, to be stopped in reverse order. Each part registers its stop step right
 * where it is created, so shutdown order follows start order without a list kept elsewhere, and a
 * start-up that fails half-way stops exactly what had started.
 */
export class TeardownStack {
  private readonly steps: { what: string; stop: () => Promise<unknown> }[] = [];

  /** Registers how to stop something that has just started. */
  defer(what: string, stop: () => Promise<unknown>): void {
    this.steps.push({ what, stop });
  }

  /**
   * Runs every step, last registered first, and empties the stack. A failing step does not keep
   * the earlier parts running: the others still run, and the failures are thrown together after.
   */
  async unwind(): Promise<void> {
    const failures: Error[] = [];
    for (const { what, stop } of this.steps.splice(0).reverse()) {
      try {
        await stop();
      } catch (error) {
        failures.push(new Error(`stopping ${what} failed: ${(error as Error).message}`, { cause: error }));
      }
    }
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) throw new AggregateError(failures, failures.map((f) => f.message).join("; "));
  }

  /**
   * Runs start-up; if it throws, stops what it had started before rethrowing, so nothing it
   * started (a worker, an embedded redis-server) outlives the failure.
   */
  async startOrUnwind<T>(start: () => Promise<T>): Promise<T> {
    try {
      return await start();
    } catch (error) {
      try {
        await this.unwind();
      } catch (unwindError) {
        throw new Error(`${(error as Error).message} (and then ${(unwindError as Error).message})`, { cause: error });
      }
      throw error;
    }
  }
}
