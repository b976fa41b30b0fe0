import { z } from "zod";
import { parseDuration, parseSize } from "./units.js";

const size = z.string().transform((text, ctx) => {
  const bytes = parseSize(text);
  if (bytes === undefined || bytes <= 0) {
    ctx.addIssue({ code: "custom", message: `"${text}" is not a size; use Docker-style sizes such as 512m or 4g` });
    return z.NEVER;
  }
  return bytes;
});

const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({ code: "custom", message: `"${text}" is not a duration; use e.g. 90s, 10m or 6h` });
    return z.NEVER;
  }
  return ms;
});

const label = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[^,\s]+$/, "labels cannot contain commas or spaces");

export const poolSchema = z
  .strictObject({
    name: z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9-]{0,39}$/,
        "use 1-40 lowercase letters, digits and dashes, starting with a letter or digit",
      ),
    labels: z.array(label).min(1).max(100),
    image: z.string().min(1),
    command: z.array(z.string()).min(1).default(["/home/runner/run.sh"]),
    maxRunners: z.int().min(0).max(10_000),
    minIdle: z.int().min(0).default(0),
    /** Where warm (minIdle) runners register: an organization, or owner/repo for repo runners. */
    warmScope: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9-]*(\/[A-Za-z0-9._-]+)?$/, "use an organization login or owner/repo")
      .optional(),
    runnerGroup: z.string().min(1).default("Default"),
    registration: z.enum(["jit", "token"]).default("jit"),
    resources: z
      .strictObject({
        memory: size.optional(),
        cpus: z.number().positive().max(1024).optional(),
        pids: z.int().min(16).optional(),
      })
      .default({}),
    network: z.string().min(1).default("bridge"),
    idleTimeout: duration.prefault("10m"),
    maxLifetime: duration.prefault("6h"),
    env: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "not an environment variable name"), z.string())
      .default({}),
    dockerInDocker: z.boolean().default(false),
    gpus: z.boolean().default(false),
  })
  .superRefine((pool, ctx) => {
    if (!pool.labels.some((l) => l.toLowerCase() === "self-hosted")) {
      ctx.addIssue({ code: "custom", path: ["labels"], message: 'must include "self-hosted"' });
    }
    if (pool.minIdle > 0 && !pool.warmScope) {
      ctx.addIssue({
        code: "custom",
        path: ["warmScope"],
        message: "required when minIdle > 0: the organization (or owner/repo) warm runners register with",
      });
    }
    if (pool.minIdle > pool.maxRunners) {
      ctx.addIssue({ code: "custom", path: ["minIdle"], message: `must not exceed maxRunners (${pool.maxRunners})` });
    }
  });

/** The file is a list of pools; a mapping with a `pools` list is accepted too. */
export const poolsFileSchema = z
  .preprocess(
    (file) =>
      file !== null && typeof file === "object" && !Array.isArray(file) && "pools" in file ? file.pools : file,
    z.array(poolSchema).min(1, "declare at least one pool"),
  )
  .superRefine((pools, ctx) => {
    const seen = new Set<string>();
    pools.forEach((pool, index) => {
      if (seen.has(pool.name)) {
        ctx.addIssue({ code: "custom", path: [index, "name"], message: `duplicate pool name "${pool.name}"` });
      }
      seen.add(pool.name);
    });
  });

export type Pool = z.output<typeof poolSchema>;
