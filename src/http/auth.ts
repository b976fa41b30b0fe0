import { createHash, timingSafeEqual } from "node:crypto";

export type AuthResult = "ok" | "missing" | "wrong";

/** Tokens are compared as SHA-256 digests: equal lengths, so the comparison leaks no length. */
export function tokenDigest(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/** The token a request presents as `Authorization: Bearer TOKEN`. Browsers log in once instead (admin/dashboard/session.ts). */
export function presentedToken(authorization: string | undefined): string | undefined {
  return /^bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1];
}

export function checkToken(presented: string | undefined, expectedDigest: Buffer): AuthResult {
  if (presented === undefined || presented === "") return "missing";
  return timingSafeEqual(tokenDigest(presented), expectedDigest) ? "ok" : "wrong";
}
