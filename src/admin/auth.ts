import { createHash, timingSafeEqual } from "node:crypto";

export type AuthResult = "ok" | "missing" | "wrong";

/** Tokens are compared as SHA-256 digests: equal lengths, so the comparison leaks no length. */
export function tokenDigest(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/**
 * The token a request presents: `Bearer TOKEN`, or (where a browser must get in, the dashboard)
 * HTTP Basic with the token as password, which browsers prompt for and resend by themselves.
 */
export function presentedToken(authorization: string | undefined, allowBasic: boolean): string | undefined {
  if (!authorization) return undefined;
  const match = /^(\S+)\s+(\S+)\s*$/.exec(authorization);
  if (!match) return undefined;
  const scheme = (match[1] ?? "").toLowerCase();
  const credentials = match[2] ?? "";
  if (scheme === "bearer") return credentials;
  if (scheme !== "basic" || !allowBasic) return undefined;
  const decoded = Buffer.from(credentials, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon >= 0 ? decoded.slice(colon + 1) : undefined;
}

export function checkToken(presented: string | undefined, expectedDigest: Buffer): AuthResult {
  if (presented === undefined || presented === "") return "missing";
  return timingSafeEqual(tokenDigest(presented), expectedDigest) ? "ok" : "wrong";
}
