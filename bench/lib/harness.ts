/** What every benchmark entry shares: its log, deadlines, runnerhub's environment and the clean-up of what it started. */

import { generateKeyPairSync } from "node:crypto";

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

/** A fresh App private key (the simulator takes any key; each bench makes its own). */
export function appPrivateKey(): string {
  return generateKeyPairSync("rsa", { modulusLength: 2048 })
    .privateKey.export({ type: "pkcs1", format: "pem" })
    .toString();
}

/** What every bench hands runnerhub: the simulator as GitHub, one Redis under a prefix, one pools file, loopback only. */
export function benchAppEnv(options: {
  githubHost: string;
  webhookSecret: string;
  redisUrl: string;
  prefix: string;
  poolsFile: string;
  privateKey?: string;
}): Record<string, string> {
  return {
    APP_ID: "1",
    PRIVATE_KEY: options.privateKey ?? appPrivateKey(),
    WEBHOOK_SECRET: options.webhookSecret,
    GHE_HOST: options.githubHost,
    GHE_PROTOCOL: "http",
    HOST: "127.0.0.1",
    LOG_LEVEL: "info",
    REDIS_URL: options.redisUrl,
    RUNNERHUB_REDIS_PREFIX: options.prefix,
    RUNNERHUB_CONFIG: options.poolsFile,
    RUNNERHUB_STOP_GRACE: "5s",
  };
}
