/** The fields a size may set; any it leaves out come from the pool's own resources. */
export interface SizeFields {
  label: string;
  resources: { memory?: number; cpus?: number; pids?: number };
}

type FieldProblem = { path: (string | number)[]; message: string };

/**
 * What is wrong with a pool's sizes: a size label that is also one of the pool's labels (every
 * runner would carry it, so it would choose nothing), or two sizes with one label.
 */
export function sizeProblems(pool: {
  name: string;
  labels: readonly string[];
  sizes: readonly SizeFields[];
}): FieldProblem[] {
  const labels = new Set(pool.labels.map((label) => label.toLowerCase()));
  const seen = new Set<string>();
  return pool.sizes.flatMap((size, index) => {
    const key = size.label.toLowerCase();
    const at = ["sizes", index, "label"];
    if (labels.has(key)) {
      return [
        { path: at, message: `"${size.label}" is one of pool "${pool.name}"'s labels; a size label must be its own` },
      ];
    }
    if (seen.has(key)) return [{ path: at, message: `size "${size.label}" is declared twice` }];
    seen.add(key);
    return [];
  });
}

type FilePool = {
  name: string;
  sizes: readonly SizeFields[];
  oomRetryPool?: string;
  oomRetrySize?: string;
  groupDefault: boolean;
};

/**
 * What is wrong across the file: an oomRetrySize that the re-run's pool (oomRetryPool, else the
 * pool itself) does not offer, and more than one groupDefault pool: GitHub's queued webhook does
 * not say which runner group a label-less job asked for (docs/configuration.md, "Runner groups"),
 * so only one pool can be the place such jobs go.
 */
export function fileSizeProblems(pools: readonly FilePool[]): FieldProblem[] {
  const problems: FieldProblem[] = [];
  pools.forEach((pool, index) => {
    if (pool.oomRetrySize === undefined) return;
    const target = pools.find((candidate) => candidate.name === (pool.oomRetryPool ?? pool.name));
    if (!target) return;
    const offered = target.sizes.map((size) => size.label);
    if (!offered.some((label) => label.toLowerCase() === pool.oomRetrySize?.toLowerCase())) {
      problems.push({
        path: [index, "oomRetrySize"],
        message:
          `pool "${target.name}" offers no size "${pool.oomRetrySize}"` +
          (offered.length > 0 ? `; its sizes: ${offered.join(", ")}` : "; declare it under that pool's sizes"),
      });
    }
  });
  const defaults = pools.flatMap((pool, index) => (pool.groupDefault ? [{ pool, index }] : []));
  defaults.slice(1).forEach(({ index }) => {
    problems.push({
      path: [index, "groupDefault"],
      message:
        `pool "${defaults[0]?.pool.name}" is already groupDefault; GitHub's queued webhook does not name the ` +
        "runner group a label-less job asked for, so only one pool can serve such jobs",
    });
  });
  return problems;
}
