/** One Redis Sentinel (or, in messages, any host and port). */
export interface RedisNode {
  host: string;
  port: number;
}

/**
 * Which Redis every connection of the process goes to, as the environment says: one server by
 * URL, or the primary that a group of Sentinels names (followed through failovers). Undefined in
 * Config: the embedded redis-server.
 */
export type RedisTarget =
  | { kind: "url"; url: string; password: string | undefined }
  | {
      kind: "sentinel";
      sentinels: RedisNode[];
      /** The primary's name in the Sentinels' `sentinel monitor NAME …`. */
      name: string;
      /** For the primary and replicas (`requirepass`); undefined: none. */
      password: string | undefined;
      username: string | undefined;
      /** For the Sentinels themselves (their `requirepass`); undefined: none. */
      sentinelPassword: string | undefined;
      db: number;
    };

export interface RedisEnv {
  REDIS_URL?: string;
  REDIS_SENTINELS?: string;
  REDIS_SENTINEL_NAME?: string;
  REDIS_PASSWORD?: string;
  REDIS_SENTINEL_PASSWORD?: string;
}

export type RedisTargetResult = { ok: true; target: RedisTarget | undefined } | { ok: false; problems: string[] };

/** Sentinel's own default port. */
const SENTINEL_PORT = 26379;
const SENTINEL_URL = /^redis\+sentinel:\/\/(?:([^@/]*)@)?([^/]+)\/([^/]+?)(?:\/(\d+))?\/?$/;
const MASTER_NAME = /^[A-Za-z0-9._-]+$/;

/** Where the process connects, for logs and messages; never a password. */
export function describeRedisTarget(target: RedisTarget): string {
  if (target.kind === "sentinel") {
    const nodes = target.sentinels.map((node) => hostPort(node)).join(",");
    return `redis+sentinel://${nodes}/${target.name}${target.db === 0 ? "" : `/${target.db}`}`;
  }
  const parsed = new URL(target.url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}

function hostPort(node: RedisNode): string {
  return node.host.includes(":") ? `[${node.host}]:${node.port}` : `${node.host}:${node.port}`;
}

/** `host:port,host:port` (port 26379 when left out; IPv6 in brackets); a string is the problem. */
function parseNodes(text: string, variable: string): RedisNode[] | string {
  const nodes: RedisNode[] = [];
  for (const part of text.split(",").map((entry) => entry.trim())) {
    const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+))(?::(\d+))?$/.exec(part);
    const port = Number(match?.[3] ?? SENTINEL_PORT);
    if (!match || !Number.isInteger(port) || port < 1 || port > 65535) {
      return `${variable}: "${part}" is not a Sentinel address; use host:port entries separated by commas, e.g. sentinel-a:26379,sentinel-b:26379`;
    }
    nodes.push({ host: match[1] ?? match[2] ?? "", port });
  }
  return nodes;
}

function checkName(name: string, variable: string): string | undefined {
  return MASTER_NAME.test(name)
    ? undefined
    : `${variable}: "${name}" is not a Sentinel primary name; use the NAME of the Sentinels' "sentinel monitor NAME host port quorum" (letters, digits, ".", "_", "-")`;
}

/** The password REDIS_PASSWORD gives, unless the URL carries one already (then it is a conflict). */
function passwordOf(fromUrl: string | undefined, env: RedisEnv): string | undefined | { problem: string } {
  if (fromUrl !== undefined && env.REDIS_PASSWORD !== undefined) {
    return { problem: "REDIS_PASSWORD: REDIS_URL carries a password too; give it in one place only" };
  }
  return fromUrl ?? env.REDIS_PASSWORD;
}

function fromSentinelUrl(url: string, env: RedisEnv): RedisTargetResult {
  const match = SENTINEL_URL.exec(url);
  if (!match) {
    return fail(
      "REDIS_URL: a Sentinel URL reads redis+sentinel://[[user]:password@]host:port,host:port/NAME[/db], naming the Sentinels and the primary they monitor",
    );
  }
  const [, userInfo, hosts = "", name = "", db] = match;
  if (env.REDIS_SENTINELS !== undefined || env.REDIS_SENTINEL_NAME !== undefined) {
    return fail(
      "REDIS_SENTINELS / REDIS_SENTINEL_NAME: REDIS_URL names the Sentinels and the primary already; use one or the other",
    );
  }
  const nodes = parseNodes(hosts, "REDIS_URL");
  if (typeof nodes === "string") return fail(nodes);
  const nameProblem = checkName(decodeURIComponent(name), "REDIS_URL");
  if (nameProblem) return fail(nameProblem);
  const [user, secret] = userInfo === undefined ? [] : splitUserInfo(userInfo);
  const password = passwordOf(secret, env);
  if (typeof password === "object") return fail(password.problem);
  return sentinelTarget(nodes, decodeURIComponent(name), password, user, env, Number(db ?? 0));
}

function splitUserInfo(userInfo: string): [string | undefined, string | undefined] {
  const colon = userInfo.indexOf(":");
  const user = decodeURIComponent(colon < 0 ? userInfo : userInfo.slice(0, colon));
  const secret = colon < 0 ? undefined : decodeURIComponent(userInfo.slice(colon + 1));
  return [user === "" ? undefined : user, secret === "" ? undefined : secret];
}

function sentinelTarget(
  sentinels: RedisNode[],
  name: string,
  password: string | undefined,
  username: string | undefined,
  env: RedisEnv,
  db: number,
): RedisTargetResult {
  return {
    ok: true,
    target: {
      kind: "sentinel",
      sentinels,
      name,
      password,
      username,
      sentinelPassword: env.REDIS_SENTINEL_PASSWORD,
      db,
    },
  };
}

function fromSentinels(sentinels: string, env: RedisEnv): RedisTargetResult {
  if (env.REDIS_URL !== undefined) {
    return fail("REDIS_SENTINELS: REDIS_URL is set too; use REDIS_URL for one Redis, REDIS_SENTINELS for Sentinel");
  }
  if (env.REDIS_SENTINEL_NAME === undefined) {
    return fail(
      'REDIS_SENTINEL_NAME: required with REDIS_SENTINELS; set it to the NAME of the Sentinels\' "sentinel monitor NAME host port quorum"',
    );
  }
  const nodes = parseNodes(sentinels, "REDIS_SENTINELS");
  if (typeof nodes === "string") return fail(nodes);
  const nameProblem = checkName(env.REDIS_SENTINEL_NAME, "REDIS_SENTINEL_NAME");
  if (nameProblem) return fail(nameProblem);
  return sentinelTarget(nodes, env.REDIS_SENTINEL_NAME, env.REDIS_PASSWORD, undefined, env, 0);
}

function fail(...problems: string[]): RedisTargetResult {
  return { ok: false, problems };
}

/**
 * Reads REDIS_URL (redis://, rediss:// or redis+sentinel://), REDIS_SENTINELS with
 * REDIS_SENTINEL_NAME, and the passwords. Blank variables count as unset. Problems name the
 * variable and never quote a password.
 */
export function parseRedisTarget(given: RedisEnv): RedisTargetResult {
  const env = Object.fromEntries(Object.entries(given).filter(([, value]) => value !== "")) as RedisEnv;
  if (env.REDIS_SENTINELS !== undefined) return fromSentinels(env.REDIS_SENTINELS, env);
  if (env.REDIS_URL?.startsWith("redis+sentinel://")) return fromSentinelUrl(env.REDIS_URL, env);
  if (env.REDIS_SENTINEL_NAME !== undefined) {
    return fail("REDIS_SENTINEL_NAME: set REDIS_SENTINELS too (the Sentinels' host:port list), or unset it");
  }
  if (env.REDIS_SENTINEL_PASSWORD !== undefined) {
    return fail(
      "REDIS_SENTINEL_PASSWORD: applies to Sentinel only; set REDIS_SENTINELS or a redis+sentinel:// REDIS_URL, or unset it",
    );
  }
  if (env.REDIS_URL === undefined) {
    return env.REDIS_PASSWORD === undefined
      ? { ok: true, target: undefined }
      : fail("REDIS_PASSWORD: the embedded Redis takes no password; set REDIS_URL or REDIS_SENTINELS, or unset it");
  }
  if (!/^rediss?:\/\//.test(env.REDIS_URL)) {
    return fail("REDIS_URL: must start with redis://, rediss:// or redis+sentinel://");
  }
  let url: URL;
  try {
    url = new URL(env.REDIS_URL);
  } catch {
    return fail("REDIS_URL: not a URL; use redis://[[user]:password@]host:port[/db]");
  }
  const password = passwordOf(url.password === "" ? undefined : decodeURIComponent(url.password), env);
  if (typeof password === "object") return fail(password.problem);
  return {
    ok: true,
    target: { kind: "url", url: env.REDIS_URL, password: url.password === "" ? password : undefined },
  };
}
