import { CronExpressionParser } from "cron-parser";

/** Why `cron` is not a five-field cron expression (minute hour day-of-month month day-of-week), or undefined. */
export function cronProblem(cron: string): string | undefined {
  if (cron.trim().split(/\s+/).length !== 5) {
    return `"${cron}" is not a cron expression of five fields: minute hour day-of-month month day-of-week`;
  }
  try {
    CronExpressionParser.parse(cron, { strict: false });
    return undefined;
  } catch (error) {
    return `"${cron}" is not a cron expression: ${(error as Error).message}`;
  }
}

/** Why `zone` is not an IANA time zone (e.g. Europe/Berlin), or undefined. */
export function timeZoneProblem(zone: string): string | undefined {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return undefined;
  } catch {
    return `"${zone}" is not a time zone; use an IANA name such as Europe/Berlin or UTC`;
  }
}

/** Whether the minute of `at` (ms) matches the entry's cron expression in its time zone. */
export function scheduleMatches(entry: { cron: string; timezone: string }, at: number): boolean {
  // A five-field expression matches second 0 only, so the minute is what is asked about.
  const minute = new Date(Math.floor(at / 60_000) * 60_000);
  return CronExpressionParser.parse(entry.cron, { tz: entry.timezone }).includesDate(minute);
}
