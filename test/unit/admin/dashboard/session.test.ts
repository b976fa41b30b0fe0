import { describe, expect, it } from "vitest";
import { issueSession, safeNext, sessionCookie, verifySession } from "../../../../src/admin/dashboard/session.js";
import { SESSION_TTL_MS } from "../../../../src/tunables.js";

const TOKEN = "0123456789abcdef-admin";
const NOW = 1_700_000_000_000;

describe("sessions", () => {
  const session = issueSession(TOKEN, NOW, "nonce1");

  it("are accepted with the same token until they expire", () => {
    expect(verifySession(session, TOKEN, NOW)).toBe(true);
    expect(verifySession(session, TOKEN, NOW + SESSION_TTL_MS - 1)).toBe(true);
    expect(verifySession(session, TOKEN, NOW + SESSION_TTL_MS)).toBe(false);
  });

  it("end when ADMIN_TOKEN changes, and carry no trace of it", () => {
    expect(verifySession(session, `${TOKEN}x`, NOW)).toBe(false);
    expect(session).not.toContain(TOKEN);
  });

  it("refuse any change to the expiry, the nonce or the signature, and garbage", () => {
    const [expiry, nonce, signature] = session.split(".");
    expect(verifySession(`${Number(expiry) + 1}.${nonce}.${signature}`, TOKEN, NOW)).toBe(false);
    expect(verifySession(`${expiry}.nonce2.${signature}`, TOKEN, NOW)).toBe(false);
    expect(verifySession(`${expiry}.${nonce}.${"A".repeat(43)}`, TOKEN, NOW)).toBe(false);
    for (const bad of [undefined, "", "x", `${session}.`, session.slice(0, -1)]) {
      expect(verifySession(bad, TOKEN, NOW), String(bad)).toBe(false);
    }
  });

  it("differ per login", () => {
    expect(issueSession(TOKEN, NOW, "nonce2")).not.toBe(session);
  });
});

describe("cookies", () => {
  it("are HttpOnly, SameSite=Strict and scoped to /admin; Secure over HTTPS", () => {
    expect(sessionCookie("v", { secure: false, maxAgeMs: 3_600_000 })).toBe(
      "runnerhub_session=v; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=3600",
    );
    expect(sessionCookie("", { secure: true, maxAgeMs: 0 })).toBe(
      "runnerhub_session=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0; Secure",
    );
  });
});

describe("safeNext", () => {
  it("keeps pages of the admin area and sends everything else to the dashboard", () => {
    expect(safeNext("/admin/queues?x=1")).toBe("/admin/queues?x=1");
    expect(safeNext("/admin")).toBe("/admin");
    for (const bad of [
      null,
      undefined,
      "",
      "/adminx",
      "https://evil.example/admin",
      "//evil/admin",
      "/admin\\..\\x",
      "/admin/ x",
    ]) {
      expect(safeNext(bad), String(bad)).toBe("/admin");
    }
  });
});
