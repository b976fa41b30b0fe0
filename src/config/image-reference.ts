/**
 * Docker image references (distribution's grammar, the parts runnerhub needs): which registry an
 * image comes from, so the right credentials go with its pull.
 */

const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?`;
const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const TAG = "[\\w][\\w.-]{0,127}";
const DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}";
const REFERENCE = new RegExp(
  `^(?:(${DOMAIN})/)?(${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST}))?$`,
);

/** Docker Hub's names in image references and in `auths` keys of Docker's config.json. */
const DOCKER_HUB = "docker.io";
const DOCKER_HUB_ALIASES = new Set(["docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"]);

export interface ImageReference {
  /** Registry host (and port), `docker.io` for Docker Hub. */
  registry: string;
  /** Repository path inside the registry (`library/ubuntu` for `ubuntu`). */
  repository: string;
  tag: string | undefined;
  digest: string | undefined;
}

/** Undefined when `image` is not a valid reference. */
export function parseImageReference(image: string): ImageReference | undefined {
  const match = REFERENCE.exec(image);
  if (!match) return undefined;
  const [, first, rest = "", tag, digest] = match;
  // Like Docker: the first component is a registry only if it looks like a host.
  const isHost = first !== undefined && (first.includes(".") || first.includes(":") || first === "localhost");
  if (first !== undefined && !isHost) {
    if (first !== first.toLowerCase()) return undefined;
    return { registry: DOCKER_HUB, repository: `${first}/${rest}`, tag, digest };
  }
  const registry = first === undefined ? DOCKER_HUB : normalizeRegistry(first);
  const repository = registry === DOCKER_HUB && !rest.includes("/") ? `library/${rest}` : rest;
  return { registry, repository, tag, digest };
}

/**
 * An `auths` key as Docker writes it (`https://index.docker.io/v1/`, `ghcr.io`,
 * `https://registry.example.com`) reduced to the host form used in image references.
 */
export function normalizeRegistry(key: string): string {
  const host = key
    .replace(/^[a-z]+:\/\//i, "")
    .replace(/\/+$/, "")
    .replace(/\/v[12]$/, "")
    .toLowerCase();
  return DOCKER_HUB_ALIASES.has(host) ? DOCKER_HUB : host;
}

/**
 * An `auths` key may name a registry or a repository prefix inside one (`ghcr.io/acme`, the
 * containers-auth.json convention); this is the key in normalized form for prefix matching.
 */
export function normalizeAuthKey(key: string): string {
  const trimmed = key.replace(/^[a-z]+:\/\//i, "").replace(/\/+$/, "");
  const slash = trimmed.indexOf("/");
  if (slash < 0) return normalizeRegistry(trimmed);
  const path = trimmed.slice(slash + 1);
  const registry = normalizeRegistry(trimmed.slice(0, slash));
  return path === "v1" || path === "v2" ? registry : `${registry}/${path}`;
}

/** The candidate `auths` keys for an image, most specific first (`reg/a/b`, `reg/a`, `reg`). */
export function authKeysFor(reference: ImageReference): string[] {
  const parts = reference.repository.split("/");
  const keys: string[] = [];
  for (let length = parts.length; length > 0; length--) {
    keys.push(`${reference.registry}/${parts.slice(0, length).join("/")}`);
  }
  keys.push(reference.registry);
  return keys;
}
