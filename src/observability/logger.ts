import { pino, type Logger } from "pino";

/** json: one object per line (production, log shippers); pretty: for a terminal (npm run dev). */
export type LogFormat = "json" | "pretty";

/** Everything that may hold a secret, wherever it appears in a log object. */
export const REDACT_PATHS = [
  "privateKey",
  "*.privateKey",
  "secret",
  "*.secret",
  "webhookSecret",
  "*.webhookSecret",
  "token",
  "*.token",
  "adminToken",
  "*.adminToken",
  "encodedJitConfig",
  "*.encodedJitConfig",
  "encoded_jit_config",
  "*.encoded_jit_config",
  "Env",
  "*.Env",
  "password",
  "*.password",
  "authconfig",
  "*.authconfig",
  "credential",
  "*.credential",
  "registryAuths",
  "*.registryAuths",
  "authorization",
  "*.authorization",
  "*.headers.authorization",
  "*.request.headers.authorization",
  "err.request.headers.authorization",
  "*.request.body",
  "*.headers.cookie",
  "*.headers['x-hub-signature-256']",
];

/**
 * Pino writes a child's bindings after its parent's, so `name` set by runnerhub, then by Probot,
 * then by Probot's Octokit would appear three times in one line. Keep one key per field, the
 * innermost value winning (JSON.parse keeps the last of duplicate keys; values are already redacted).
 */
function oneKeyPerField(child: Logger): void {
  const slots = child as unknown as Record<symbol, string | undefined>;
  const bindings = slots[pino.symbols.chindingsSym];
  if (!bindings) return;
  const merged = JSON.stringify(JSON.parse(`{${bindings.slice(1)}}`));
  slots[pino.symbols.chindingsSym] = `,${merged.slice(1, -1)}`;
}

/**
 * JSON lines by default (production: one object per line for log shippers); `pretty` renders them
 * for a terminal through pino-pretty in a worker thread (a dev dependency, for `npm run dev`).
 */
export function createLogger(level: string, destination?: pino.DestinationStream, format: LogFormat = "json"): Logger {
  const options: pino.LoggerOptions = {
    name: "runnerhub",
    level,
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    onChild: oneKeyPerField,
  };
  if (format === "pretty") {
    return pino({
      ...options,
      transport: { target: "pino-pretty", options: { translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" } },
    });
  }
  return pino(options, destination);
}

export type { Logger };
