import { z } from "zod";

/** A pool's fair share: no repository holds more than `maxRunners` of its runners at once. */
export const perRepositorySchema = z.strictObject({
  maxRunners: z.int().min(1).max(10_000),
});

type FairFields = {
  name: string;
  maxRunners: number;
  minIdle: number;
  warm: "static" | "adaptive";
  schedule: readonly { minIdle: number }[];
  perRepository?: z.output<typeof perRepositorySchema> | undefined;
};

/**
 * What is wrong with a pool's perRepository: a ceiling above the pool's own, or warm runners.
 * A fair-share pool registers each runner at its job's repository, so GitHub gives it only that
 * repository's jobs; a warm runner is made before any job, for no repository, and one registered at
 * the organization would take whichever repository's job is oldest, past every repository's ceiling.
 */
export function perRepositoryProblems(pool: FairFields): { path: (string | number)[]; message: string }[] {
  if (pool.perRepository === undefined) return [];
  const problems: { path: (string | number)[]; message: string }[] = [];
  if (pool.perRepository.maxRunners > pool.maxRunners) {
    problems.push({
      path: ["perRepository", "maxRunners"],
      message: `must not exceed the pool's maxRunners (${pool.maxRunners})`,
    });
  }
  const warm: [string, boolean][] = [
    ["minIdle", pool.minIdle > 0],
    ["schedule", pool.schedule.some((entry) => entry.minIdle > 0)],
    ["warm", pool.warm === "adaptive"],
  ];
  for (const [field, set] of warm) {
    if (!set) continue;
    problems.push({
      path: [field],
      message:
        `pool "${pool.name}" has perRepository, whose runners register at their job's repository; ` +
        "warm runners exist before any job and would serve every repository past its share. " +
        "Remove the warm setting, or keep warm runners in another pool",
    });
  }
  return problems;
}
