/**
 * Where runners register on GitHub and what GitHub says of a job: plain types that the stores in
 * state/ and the GitHub client in github/ both speak. This folder imports nothing, so both can
 * depend on it without depending on each other.
 */

export type RunnerScope = { kind: "org"; org: string } | { kind: "repo"; owner: string; repo: string };

/** Where a runner registers: the installation whose token we use and the org or repo. */
export interface RunnerTarget {
  installationId: number;
  scope: RunnerScope;
}

export type JobStatus = "queued" | "waiting" | "in_progress" | "completed" | "pending" | "requested" | "unknown";

export function describeScope(scope: RunnerScope): string {
  return scope.kind === "org" ? scope.org : `${scope.owner}/${scope.repo}`;
}

/** One string per installation and scope, for maps and Redis hash fields. */
export function targetKey(target: RunnerTarget): string {
  return `${target.installationId}:${describeScope(target.scope)}`;
}
