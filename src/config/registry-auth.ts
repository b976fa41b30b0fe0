import { z } from "zod";
import { authKeysFor, normalizeAuthKey, parseImageReference } from "./image-reference.js";

/** What Docker's engine takes as X-Registry-Auth for a pull. */
export interface RegistryCredential {
  username: string;
  password: string;
  serveraddress: string;
}

/** Credentials by normalized `auths` key: a registry host or a repository prefix inside one. */
export type RegistryAuths = ReadonlyMap<string, RegistryCredential>;

const entrySchema = z
  .object({
    auth: z.string().min(1).optional(),
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
  })
  .transform((entry, ctx) => {
    if (entry.auth !== undefined) {
      const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (!/^[A-Za-z0-9+/=_-]+$/.test(entry.auth) || colon <= 0 || colon === decoded.length - 1) {
        ctx.addIssue({ code: "custom", path: ["auth"], message: "must be base64 of username:password" });
        return z.NEVER;
      }
      return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    if (entry.username !== undefined && entry.password !== undefined) {
      return { username: entry.username, password: entry.password };
    }
    ctx.addIssue({
      code: "custom",
      message:
        "has no credentials: give auth (base64 of username:password) or username and password; " +
        "credential helpers (credsStore, credHelpers) are not supported",
    });
    return z.NEVER;
  });

/** Docker's config.json shape; other top-level fields of a real config.json are ignored. */
const authsFileSchema = z.object({ auths: z.record(z.string().min(1), entrySchema) });

/** Flattens a zod issue path the way Docker's config.json reads (`auths["ghcr.io"].auth`). */
function fieldOf(path: readonly PropertyKey[]): string {
  return path
    .map((segment, index) =>
      index === 1 && path[0] === "auths"
        ? `[${JSON.stringify(String(segment))}]`
        : index
          ? `.${String(segment)}`
          : String(segment),
    )
    .join("")
    .replace(/\.\[/g, "[");
}

export type AuthsParse = { ok: true; auths: Map<string, RegistryCredential> } | { ok: false; problems: string[] };

/** Validates one `{"auths": {...}}` document; problems name the field, never a secret. */
export function parseRegistryAuths(document: unknown): AuthsParse {
  const parsed = authsFileSchema.safeParse(document);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((issue) => `${fieldOf(issue.path) || "(top level)"}: ${issue.message}`),
    };
  }
  const auths = new Map<string, RegistryCredential>();
  for (const [key, entry] of Object.entries(parsed.data.auths)) {
    const normalized = normalizeAuthKey(key);
    auths.set(normalized, { ...entry, serveraddress: normalized.split("/")[0] ?? normalized });
  }
  return { ok: true, auths };
}

/**
 * The `auths` entry used to pull `image`: the one a pool names (`registryAuth`), otherwise the most
 * specific `auths` key that covers the image (repository prefix before registry host); undefined
 * for an anonymous pull. A name, not a secret: pulls with different credentials are told apart by it.
 */
export function credentialKeyFor(image: string, auths: RegistryAuths, poolKey: string | undefined): string | undefined {
  if (poolKey !== undefined) {
    const named = normalizeAuthKey(poolKey);
    return auths.has(named) ? named : undefined;
  }
  const reference = parseImageReference(image);
  if (!reference) return undefined;
  return authKeysFor(reference).find((key) => auths.has(key));
}
