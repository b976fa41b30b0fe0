import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseEnv } from "node:util";
import { describe, expect, it } from "vitest";
import { saveSettings } from "../../../src/config/setup-mode.js";

const pem = generateKeyPairSync("rsa", { modulusLength: 2048 })
  .privateKey.export({ type: "pkcs1", format: "pem" })
  .toString();

describe("saveSettings", () => {
  it("keeps the setup flow's settings in a new folder, owner-only, readable back as they were given", () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "runnerhub-settings-")), "data", "runnerhub.env");
    const env: NodeJS.ProcessEnv = {};
    saveSettings(file, { APP_ID: "123", PRIVATE_KEY: pem, WEBHOOK_SECRET: "s3cret #1" }, env);

    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(parseEnv(readFileSync(file, "utf8"))).toEqual({
      APP_ID: "123",
      PRIVATE_KEY: pem,
      WEBHOOK_SECRET: "s3cret #1",
    });
    expect(env).toEqual({ APP_ID: "123", PRIVATE_KEY: pem, WEBHOOK_SECRET: "s3cret #1" });
  });

  it("merges into settings already there", () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "runnerhub-settings-")), ".env");
    writeFileSync(file, "ADMIN_TOKEN=kept-admin-token-1234\nAPP_ID=1\n");
    saveSettings(file, { APP_ID: "2" }, {});
    expect(parseEnv(readFileSync(file, "utf8"))).toEqual({ ADMIN_TOKEN: "kept-admin-token-1234", APP_ID: "2" });
  });
});
