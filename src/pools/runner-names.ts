import { randomBytes } from "node:crypto";

/**
 * Runner names runnerhub gives: `<pool>-<8 lowercase hex digits>`, e.g. `linux-1a2b3c4d`. The
 * reconciler deletes idle registrations of this form that have no container, so the builder and
 * the parser live side by side and a unit test round-trips them: a name the parser misses would
 * leave its orphan registration behind for ever.
 */
const NAME = /^(.+)-([0-9a-f]{8})$/;

/** 4 random bytes as 8 hex digits: the suffix source the runtime injects where runners are named. */
export function randomRunnerSuffix(): string {
  return randomBytes(4).toString("hex");
}

/** The pool and suffix of a name runnerhub gave; undefined for any other name. */
export function parseRunnerName(name: string): { pool: string; suffix: string } | undefined {
  const match = NAME.exec(name);
  return match ? { pool: match[1] ?? "", suffix: match[2] ?? "" } : undefined;
}

/** A runner's name; throws for a suffix the parser would not give back (not 8 lowercase hex digits). */
export function runnerName(pool: string, suffix: string): string {
  const name = `${pool}-${suffix}`;
  const parsed = parseRunnerName(name);
  if (parsed?.pool !== pool || parsed.suffix !== suffix) {
    throw new Error(
      `cannot name a runner of pool "${pool}" with suffix "${suffix}": the suffix must be 8 lowercase hex digits`,
    );
  }
  return name;
}

/** The fields a log line about a runner carries, when only its name is at hand. */
export function runnerLogFields(name: string): { pool: string | undefined; runnerName: string } {
  return { pool: parseRunnerName(name)?.pool, runnerName: name };
}
