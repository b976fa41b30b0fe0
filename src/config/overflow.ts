/** A pool as overflow's validation reads it: its name and the pool it overflows to. */
export interface OverflowFields {
  name: string;
  overflow?: string | undefined;
}

/** One problem with a pool's `overflow`, by the pool's index in the file. */
export interface OverflowProblem {
  index: number;
  message: string;
}

/**
 * What is wrong with the pools' `overflow` fields: a pool that names itself, a name no pool has,
 * or a chain that comes back to where it began (a → b → a). At run time a job overflows once at
 * most, so a cycle could not loop; it is refused anyway, because it says the file is not what its
 * author meant. Each cycle is reported once, at the first of its pools in the file.
 */
export function overflowProblems(pools: readonly OverflowFields[]): OverflowProblem[] {
  const names = pools.map((pool) => pool.name);
  const next = new Map(pools.map((pool) => [pool.name, pool.overflow]));
  const inReportedCycle = new Set<string>();
  const problems: OverflowProblem[] = [];
  pools.forEach((pool, index) => {
    if (pool.overflow === undefined) return;
    if (pool.overflow === pool.name) {
      problems.push({ index, message: `pool "${pool.name}" cannot overflow to itself; name another pool` });
    } else if (!next.has(pool.overflow)) {
      problems.push({
        index,
        message: `pool "${pool.name}" overflows to "${pool.overflow}", which no pool is called; pools: ${names.join(", ")}`,
      });
    } else if (!inReportedCycle.has(pool.name)) {
      const cycle = cycleFrom(pool.name, next);
      if (cycle) {
        cycle.forEach((name) => inReportedCycle.add(name));
        problems.push({
          index,
          message: `overflow goes round in a loop (${[...cycle, pool.name].join(" → ")}); end the chain at a pool without overflow`,
        });
      }
    }
  });
  return problems;
}

/** The pools from `start` round to `start` again by following overflow, or undefined when the chain ends. */
function cycleFrom(start: string, next: ReadonlyMap<string, string | undefined>): string[] | undefined {
  const path = [start];
  for (let at = next.get(start); at !== undefined; at = next.get(at)) {
    if (at === start) return path;
    // A loop that does not pass through start is reported at its own first pool.
    if (path.includes(at)) return undefined;
    path.push(at);
  }
  return undefined;
}
