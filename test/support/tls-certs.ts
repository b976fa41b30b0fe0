import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

/** Where the certificates of a TLS Docker engine are, in Docker's file names. */
export interface DockerCertificates {
  /** ca.pem, server-cert.pem, server-key.pem: what `dockerd --tlsverify` needs. */
  serverDir: string;
  /** ca.pem, cert.pem, key.pem: a DOCKER_CERT_PATH for clients. */
  clientDir: string;
}

function openssl(cwd: string, args: string[]): void {
  const result = spawnSync("openssl", args, { cwd, encoding: "utf8" });
  if (result.error) throw new Error(`openssl is not installed (apt-get install openssl): ${result.error.message}`);
  if (result.status !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${result.stderr}`);
}

const KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** Signs `name`.csr with the CA into `out`, with the given X.509 v3 extensions. */
function sign(dir: string, name: string, out: string, extensions: string): void {
  writeFileSync(path.join(dir, `${name}.ext`), extensions);
  openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca-key.pem",
    "-CAcreateserial",
    "-days",
    "2",
    "-out",
    out,
    "-extfile",
    `${name}.ext`,
  ]);
}

/**
 * A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl
 * as Docker's "protect the daemon socket" guide does.
 */
export function makeDockerCertificates(dir: string): DockerCertificates {
  const serverDir = path.join(dir, "server");
  const clientDir = path.join(dir, "client");
  mkdirSync(serverDir, { recursive: true });
  mkdirSync(clientDir, { recursive: true });
  openssl(serverDir, [
    "req",
    "-x509",
    ...KEY,
    "-keyout",
    "ca-key.pem",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=runnerhub test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  openssl(serverDir, ["req", ...KEY, "-keyout", "server-key.pem", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
  sign(serverDir, "server", "server-cert.pem", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  openssl(serverDir, ["req", ...KEY, "-keyout", "../client/key.pem", "-out", "client.csr", "-subj", "/CN=client"]);
  sign(serverDir, "client", "../client/cert.pem", "extendedKeyUsage=clientAuth\n");
  openssl(serverDir, ["x509", "-in", "ca.pem", "-out", "../client/ca.pem"]);
  return { serverDir, clientDir };
}
