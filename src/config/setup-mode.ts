import { run } from "probot";
import type { SetupConfig } from "./load.js";

/**
 * Before the app is registered, Probot serves its manifest flow (from app.yml) so the user can
 * create the GitHub App in two clicks. Probot's setup reads its options from the environment.
 */
export async function serveSetupPage(config: SetupConfig, env: NodeJS.ProcessEnv): Promise<void> {
  // Without this Probot tries to open a smee.io channel, which a self-hosted install does not want.
  if (!env.WEBHOOK_PROXY_URL) env.NO_SMEE_SETUP = "true";
  await run(() => undefined, {
    env: { ...env, PORT: String(config.http.port), HOST: config.http.host, LOG_LEVEL: config.logLevel },
  });
}
