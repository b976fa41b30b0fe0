import { createHmac, timingSafeEqual } from "node:crypto";
import { SESSION_TTL_MS } from "../../tunables.js";

/**
 * Browser sessions of the dashboard, without server state: the cookie is an expiry and a nonce
 * signed with HMAC-SHA256 keyed by ADMIN_TOKEN. Every process with the same token accepts it,
 * it survives restarts, and changing ADMIN_TOKEN ends every session at once.
 */

export const SESSION_COOKIE = "runnerhub_session";

function signature(token: string, payload: string): string {
  return createHmac("sha256", token).update(`runnerhub-admin-session.${payload}`).digest("base64url");
}

export function issueSession(token: string, now: number, nonce: string): string {
  const payload = `${now + SESSION_TTL_MS}.${nonce}`;
  return `${payload}.${signature(token, payload)}`;
}

export function verifySession(value: string | undefined, token: string, now: number): boolean {
  if (!value) return false;
  const match = /^([0-9]{1,15})\.([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{43})$/.exec(value);
  if (!match) return false;
  const [, expiresAt = "", nonce = "", presented = ""] = match;
  if (Number(expiresAt) <= now) return false;
  const expected = signature(token, `${expiresAt}.${nonce}`);
  return timingSafeEqual(Buffer.from(presented), Buffer.from(expected));
}

/** When a session cookie (already verified) expires; live streams end then. */
export function sessionExpiresAt(value: string): number {
  return Number(value.split(".")[0]);
}

/** HttpOnly (no script reads it), SameSite=Strict (no other site sends it), scoped to /admin. */
export function sessionCookie(value: string, options: { secure: boolean; maxAgeMs: number }): string {
  const attributes = [
    `${SESSION_COOKIE}=${value}`,
    "Path=/admin",
    "HttpOnly",
    "SameSite=Strict",
    `Max-Age=${Math.max(0, Math.floor(options.maxAgeMs / 1000))}`,
  ];
  if (options.secure) attributes.push("Secure");
  return attributes.join("; ");
}

/** Where to go after logging in: only a page of the admin area, never another site. */
export function safeNext(next: string | null | undefined): string {
  if (!next || !/^\/admin(?:[/?#][^\s\\]*)?$/.test(next) || next.startsWith("//")) return "/admin";
  return next;
}
