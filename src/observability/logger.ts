import { pino, type Logger } from "pino";

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
  "authorization",
  "*.authorization",
  "*.headers.authorization",
  "*.request.headers.authorization",
  "err.request.headers.authorization",
  "*.request.body",
  "*.headers.cookie",
  "*.headers['x-hub-signature-256']",
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      name: "runnerhub",
      level,
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

export type { Logger };
