import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseEnv } from "node:util";
import { run } from "probot";
import type { SetupConfig } from "./load.js";

/** One KEY=value line that Node's env-file parser reads back unchanged (newlines as \n in quotes). */
function envLine(key: string, value: string): string {
  return /[\s"'#\\]/.test(value) ? `${key}="${value.replace(/\n/g, "\\n")}"` : `${key}=${value}`;
}

/**
 * Merges settings into the settings file (created with its folder, readable by its owner only:
 * it holds the private key) and into `env`. Probot hands the private key over already wrapped in
 * quotes for its own writer; the quotes are taken off so the value is the PEM itself.
 */
export function saveSettings(file: string, values: Record<string, unknown>, env: NodeJS.ProcessEnv) {
  const existing = existsSync(file) ? parseEnv(readFileSync(file, "utf8")) : {};
  const fresh = Object.fromEntries(
    Object.entries(values).flatMap(([key, value]) =>
      // The import page passes the App id on as the number it was posted as.
      value === undefined || value === null ? [] : [[key, String(value).replace(/^"([^]*)"$/, "$1")]],
    ),
  );
  const merged: Record<string, string> = {};
  for (const [key, value] of Object.entries({ ...existing, ...fresh })) if (value !== undefined) merged[key] = value;
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(
    file,
    `${Object.entries(merged)
      .map(([key, value]) => envLine(key, value))
      .join("\n")}\n`,
    {
      mode: 0o600,
    },
  );
  chmodSync(file, 0o600);
  Object.assign(env, fresh);
  return merged;
}

/**
 * Before the app is registered, Probot serves its manifest flow (from app.yml) so the user can
 * create the GitHub App in two clicks. The settings it gets back are kept in config.settingsFile
 * (on a volume under Docker) and put into `env`; the promise resolves once they are, with the page
 * closed, so the caller can start for real without a restart.
 */
export async function serveSetupPage(config: SetupConfig, env: NodeJS.ProcessEnv): Promise<void> {
  // Without this Probot tries to open a smee.io channel, which a self-hosted install does not want.
  if (!env.WEBHOOK_PROXY_URL) env.NO_SMEE_SETUP = "true";
  let settled: () => void = () => undefined;
  const saved = new Promise<void>((resolve) => (settled = resolve));
  // Probot's run() refuses the setup page when NODE_ENV is production (it expects a registered
  // app there), yet the Docker image runs in production and its first start must show the page.
  const nodeEnv = env.NODE_ENV;
  delete env.NODE_ENV;
  let server: Awaited<ReturnType<typeof run>>;
  try {
    server = await run(() => undefined, {
      env: { ...env, PORT: String(config.http.port), HOST: config.http.host, LOG_LEVEL: config.logLevel },
      updateEnv: (values) => {
        const merged = saveSettings(config.settingsFile, values, env);
        if (values.APP_ID) settled();
        return merged;
      },
    });
  } finally {
    if (nodeEnv !== undefined) env.NODE_ENV = nodeEnv;
  }
  await saved;
  await server.stop();
}
