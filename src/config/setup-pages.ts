import { html, type Html } from "../http/html.js";

/**
 * The setup page's HTML and the GitHub App manifest it posts, without I/O. The page registers
 * the App through GitHub's manifest flow, or takes the settings of an App that already exists.
 */

export const SETUP_HOME = "/probot";
export const SETUP_IMPORT = "/probot/import";
/** Where GitHub sends the browser back with the manifest's code (the manifest's redirect_url). */
export const SETUP_RETURN = "/probot/setup";

/** app.yml's fields (name, permissions, events ...); the manifest's URLs are this process' own. */
export type AppManifest = Record<string, unknown>;

export function manifestOf(app: AppManifest, baseUrl: string, webhookProxyUrl: string | undefined): AppManifest {
  return {
    version: "v1",
    ...app,
    // GitHub posts webhooks to the address the page was opened on (runnerhub accepts them at /).
    hook_attributes: { url: webhookProxyUrl ?? `${baseUrl}/` },
    redirect_url: `${baseUrl}${SETUP_RETURN}`,
  };
}

/**
 * GitHub's "create an App from a manifest" form. `state` comes back with the browser on the
 * redirect, and a cross-site redirect carries no SameSite=Strict cookie: the token rides there.
 */
export function createAppUrl(webUrl: string, org: string | undefined, state: string): string {
  const owner = org === undefined ? "" : `/organizations/${encodeURIComponent(org)}`;
  return `${webUrl}${owner}/settings/apps/new?state=${encodeURIComponent(state)}`;
}

function layout(title: string, body: Html): Html {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title}</title>
      </head>
      <body>
        ${body}
      </body>
    </html>`;
}

export function renderSetupPage(options: { manifest: AppManifest; createAppUrl: string }): Html {
  return layout(
    "Set up runnerhub",
    html`<h1>Set up runnerhub</h1>
      <p>Register the GitHub App runnerhub acts as. GitHub creates it from this manifest and sends you back here.</p>
      <form action="${options.createAppUrl}" method="post">
        <input type="hidden" name="manifest" id="manifest" value="${JSON.stringify(options.manifest)}" />
        <button type="submit">Register GitHub App</button>
      </form>
      <p><a href="${SETUP_IMPORT}">Or use an existing GitHub App</a></p>`,
  );
}

export function renderImportPage(error?: string): Html {
  return layout(
    "Use an existing GitHub App · runnerhub",
    html`<h1>Use an existing GitHub App</h1>
      ${error ? html`<p role="alert">${error}</p>` : ""}
      <form action="${SETUP_IMPORT}" method="post">
        <p>
          <label>App ID <input name="appId" inputmode="numeric" required /></label>
        </p>
        <p>
          <label>Private key (PEM) <textarea name="pem" rows="8" cols="64" required></textarea></label>
        </p>
        <p>
          <label>Webhook secret <input name="webhook_secret" type="password" required /></label>
        </p>
        <button type="submit">Save and start</button>
      </form>`,
  );
}

export function renderDonePage(): Html {
  return layout(
    "runnerhub is set up",
    html`<h1>runnerhub is set up</h1>
      <p>The App's settings are saved; runnerhub starts serving now. Install the App from its page on GitHub.</p>`,
  );
}
