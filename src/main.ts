import { ConfigError, loadConfig, loadDotEnv } from "./config/load.js";
import { serveSetupPage } from "./config/setup-mode.js";
import { createLogger } from "./observability/logger.js";
import { startRuntime } from "./runtime/index.js";

async function main(): Promise<void> {
  loadDotEnv();
  let config = loadConfig(process.env);
  const setUpNow = config.mode === "setup";
  if (config.mode === "setup") {
    await serveSetupPage(config, process.env);
    config = loadConfig(process.env);
    if (config.mode === "setup") throw new Error("the setup page saved no APP_ID and private key");
  }
  const log = createLogger(config.logLevel, undefined, config.logFormat);
  if (setUpNow) log.info("GitHub App settings saved by the setup page; starting");
  const runtime = await startRuntime(config, log);
  let stopping = false;
  const shutdown = (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, timeoutMs: config.shutdownTimeoutMs }, "shutting down");
    // Work cut short here is what a crash leaves: leases expire and the reconciler repairs it.
    setTimeout(() => {
      log.error({ signal, timeoutMs: config.shutdownTimeoutMs }, "shutdown did not finish in time; exiting anyway");
      process.exit(1);
    }, config.shutdownTimeoutMs).unref();
    runtime.stop().then(
      () => process.exit(exitCode),
      (error: unknown) => {
        log.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  // A supervisor restarts a process that exits non-zero (e.g. under an engine name of its own).
  void runtime.failed.then((error) => {
    log.error({ err: error }, "cannot run on; stopping");
    shutdown("fatal", 1);
  });
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

main().catch((error: unknown) => {
  // Startup problems are for a human reading a terminal: the message says what to fix.
  const message =
    error instanceof ConfigError ? error.message : `runnerhub failed to start: ${(error as Error).message}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
