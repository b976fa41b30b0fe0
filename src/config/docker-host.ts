import { readFileSync } from "node:fs";
import path from "node:path";

/** Client certificates for an engine that speaks TLS (`dockerd --tlsverify`). */
export interface DockerTls {
  /** The folder the files came from, for messages. */
  certPath: string;
  ca: string;
  cert: string;
  key: string;
}

/** How to reach a Docker engine, as DOCKER_HOST and its companion variables say. */
export type DockerConnection =
  | { kind: "unix"; socketPath: string }
  | { kind: "tcp"; host: string; port: number; tls: DockerTls | undefined }
  /** Through the ssh client: `ssh [-l user] [-p port] host docker system dial-stdio`, as the docker CLI does. */
  | { kind: "ssh"; host: string; port: number | undefined; user: string | undefined };

export interface DockerHostEnv {
  DOCKER_HOST?: string;
  DOCKER_TLS_VERIFY?: string;
  DOCKER_CERT_PATH?: string;
  DOCKER_TLS?: string;
  DOCKER_CONFIG?: string;
  HOME?: string;
}

export type DockerHostResult = { ok: true; connection: DockerConnection } | { ok: false; problems: string[] };

const DEFAULT_HOST = "unix:///var/run/docker.sock";
const CERT_FILES = ["ca.pem", "cert.pem", "key.pem"] as const;

/** Where an engine is, for logs and messages; never includes certificates. */
export function describeConnection(connection: DockerConnection): string {
  switch (connection.kind) {
    case "unix":
      return `unix://${connection.socketPath}`;
    case "tcp":
      return `tcp://${connection.host}:${connection.port}${connection.tls ? ` (TLS, certificates in ${connection.tls.certPath})` : ""}`;
    case "ssh":
      return `ssh://${connection.user ? `${connection.user}@` : ""}${connection.host}${connection.port ? `:${connection.port}` : ""}`;
  }
}

/**
 * Docker's convention: any non-empty DOCKER_TLS_VERIFY turns verification on (the docker CLI
 * reads "0" as on too). "0" or "false" are refused rather than silently meaning the opposite.
 */
function tlsVerify(value: string | undefined): boolean | string {
  if (value === undefined || value === "") return false;
  if (/^(0|false|no|off)$/i.test(value)) {
    return `DOCKER_TLS_VERIFY: "${value}" would turn TLS on for the docker CLI (any value does); set it to 1 to verify the engine over TLS, or unset it for plain tcp`;
  }
  return true;
}

/** Reads ca.pem, cert.pem and key.pem from DOCKER_CERT_PATH, or from the docker CLI's folder (~/.docker). */
function readCertificates(env: DockerHostEnv): DockerTls | string[] {
  const certPath = env.DOCKER_CERT_PATH || env.DOCKER_CONFIG || path.join(env.HOME ?? "", ".docker");
  const where = env.DOCKER_CERT_PATH ? "DOCKER_CERT_PATH" : env.DOCKER_CONFIG ? "DOCKER_CONFIG" : "~/.docker";
  const files: Partial<Record<(typeof CERT_FILES)[number], string>> = {};
  const problems: string[] = [];
  for (const file of CERT_FILES) {
    const full = path.join(certPath, file);
    try {
      files[file] = readFileSync(full, "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      problems.push(
        `DOCKER_CERT_PATH: ${full} ${code === "ENOENT" ? "does not exist" : `cannot be read (${code ?? String(error)})`}; ` +
          `DOCKER_TLS_VERIFY needs ca.pem, cert.pem and key.pem in ${certPath} (${where}); ` +
          "copy the engine's client certificates there or point DOCKER_CERT_PATH at them",
      );
    }
  }
  if (problems.length > 0 || !files["ca.pem"] || !files["cert.pem"] || !files["key.pem"]) return problems;
  return { certPath, ca: files["ca.pem"], cert: files["cert.pem"], key: files["key.pem"] };
}

function parsePort(url: URL, name: string): number | string | undefined {
  if (url.port === "") return undefined;
  const port = Number(url.port);
  return port > 0 && port < 65536 ? port : `DOCKER_HOST: ${name} port ${url.port} is not a port number`;
}

/**
 * DOCKER_HOST and its companions, checked once: unix:///path, tcp://host:port (TLS with
 * DOCKER_TLS_VERIFY + DOCKER_CERT_PATH) or ssh://[user@]host[:port]. Certificates are read here, so
 * a missing file is a start-up error naming the file.
 */
export function parseDockerHost(env: DockerHostEnv): DockerHostResult {
  const text = env.DOCKER_HOST || DEFAULT_HOST;
  const fail = (...problems: string[]): DockerHostResult => ({ ok: false, problems });
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return fail(
      `DOCKER_HOST: "${text}" is not an address; use unix:///var/run/docker.sock, tcp://host:2376 or ssh://user@host`,
    );
  }
  const verify = tlsVerify(env.DOCKER_TLS_VERIFY);
  if (typeof verify === "string") return fail(verify);
  if (env.DOCKER_TLS && !verify) {
    return fail(
      "DOCKER_TLS: TLS without verifying the engine's certificate is not supported; set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH",
    );
  }
  const notTcp = (scheme: string) =>
    verify || env.DOCKER_CERT_PATH
      ? [
          `DOCKER_TLS_VERIFY / DOCKER_CERT_PATH apply to tcp:// engines only, not ${scheme}; unset them or use DOCKER_HOST=tcp://host:2376`,
        ]
      : [];

  switch (url.protocol) {
    case "unix:": {
      if (url.host !== "" || url.pathname === "" || url.pathname === "/") {
        return fail(`DOCKER_HOST: "${text}" names no socket; use unix:///var/run/docker.sock (three slashes)`);
      }
      const problems = notTcp("unix://");
      return problems.length > 0
        ? fail(...problems)
        : { ok: true, connection: { kind: "unix", socketPath: url.pathname } };
    }
    case "tcp:": {
      if (url.hostname === "") return fail(`DOCKER_HOST: "${text}" names no host; use tcp://host:2376`);
      if (url.pathname !== "" && url.pathname !== "/") {
        return fail(`DOCKER_HOST: "${text}" has a path; use tcp://host:port without one`);
      }
      const port = parsePort(url, "tcp");
      if (typeof port === "string") return fail(port);
      if (env.DOCKER_CERT_PATH && !verify) {
        return fail(
          "DOCKER_CERT_PATH is set but DOCKER_TLS_VERIFY is not, so the engine would be spoken to in plain HTTP; set DOCKER_TLS_VERIFY=1 (or unset DOCKER_CERT_PATH)",
        );
      }
      const tls = verify ? readCertificates(env) : undefined;
      if (Array.isArray(tls)) return fail(...tls);
      // Docker's default ports: 2376 with TLS, 2375 without.
      const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
      return { ok: true, connection: { kind: "tcp", host, port: port ?? (tls ? 2376 : 2375), tls } };
    }
    case "ssh:": {
      if (url.hostname === "") return fail(`DOCKER_HOST: "${text}" names no host; use ssh://user@host`);
      if (url.password !== "") {
        return fail("DOCKER_HOST: ssh:// cannot carry a password; use a key (ssh-agent or ~/.ssh/config)");
      }
      if (url.pathname !== "" && url.pathname !== "/") {
        return fail(`DOCKER_HOST: "${text}" has a path after the host; use ssh://user@host[:port]`);
      }
      const port = parsePort(url, "ssh");
      if (typeof port === "string") return fail(port);
      const problems = notTcp("ssh://");
      if (problems.length > 0) return fail(...problems);
      const user = url.username === "" ? undefined : decodeURIComponent(url.username);
      return { ok: true, connection: { kind: "ssh", host: url.hostname, port, user } };
    }
    default:
      return fail(
        `DOCKER_HOST: "${url.protocol}//" is not supported; use unix:///path/docker.sock, tcp://host:port (DOCKER_TLS_VERIFY=1 for TLS) or ssh://user@host`,
      );
  }
}
