import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { describeConnection, parseDockerHost, type DockerHostEnv } from "../../../src/config/docker-host.js";
import { sshArguments } from "../../../src/docker/ssh.js";

/** A folder with the three files DOCKER_CERT_PATH names (contents are not checked at parse time). */
function certDir(files: string[] = ["ca.pem", "cert.pem", "key.pem"]): string {
  const dir = mkdtempSync(path.join(tmpdir(), "runnerhub-certs-"));
  for (const file of files) writeFileSync(path.join(dir, file), `${file} contents`);
  return dir;
}

function connection(env: DockerHostEnv) {
  const result = parseDockerHost(env);
  if (!result.ok) throw new Error(`unexpected problems: ${result.problems.join("; ")}`);
  return result.connection;
}

function problems(env: DockerHostEnv): string[] {
  const result = parseDockerHost(env);
  if (result.ok) throw new Error(`expected problems, got ${JSON.stringify(result.connection)}`);
  return result.problems;
}

describe("parseDockerHost: unix", () => {
  it("defaults to the local socket and reads unix:// paths", () => {
    expect(connection({})).toEqual({ kind: "unix", socketPath: "/var/run/docker.sock" });
    expect(connection({ DOCKER_HOST: "" })).toEqual({ kind: "unix", socketPath: "/var/run/docker.sock" });
    expect(connection({ DOCKER_HOST: "unix:///run/user/1000/docker.sock" })).toEqual({
      kind: "unix",
      socketPath: "/run/user/1000/docker.sock",
    });
  });

  it("refuses a socket address without a path, and TLS settings that would be ignored", () => {
    expect(problems({ DOCKER_HOST: "unix://docker.sock" })[0]).toMatch(/^DOCKER_HOST: .*three slashes/);
    expect(problems({ DOCKER_HOST: "unix:///var/run/docker.sock", DOCKER_TLS_VERIFY: "1" })[0]).toMatch(
      /^DOCKER_TLS_VERIFY \/ DOCKER_CERT_PATH apply to tcp:\/\/ engines only/,
    );
  });
});

describe("parseDockerHost: tcp", () => {
  it("speaks plain HTTP without DOCKER_TLS_VERIFY, on Docker's default port 2375", () => {
    expect(connection({ DOCKER_HOST: "tcp://docker.example" })).toEqual({
      kind: "tcp",
      host: "docker.example",
      port: 2375,
      tls: undefined,
    });
    expect(connection({ DOCKER_HOST: "tcp://[::1]:2375" })).toMatchObject({ host: "::1", port: 2375 });
  });

  it("keeps plain HTTP on port 2376 without DOCKER_TLS_VERIFY, as the docker CLI does", () => {
    expect(connection({ DOCKER_HOST: "tcp://engine:2376" })).toMatchObject({ port: 2376, tls: undefined });
  });

  it("reads ca.pem, cert.pem and key.pem from DOCKER_CERT_PATH with DOCKER_TLS_VERIFY", () => {
    const dir = certDir();
    expect(connection({ DOCKER_HOST: "tcp://engine", DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: dir })).toEqual({
      kind: "tcp",
      host: "engine",
      port: 2376,
      tls: { certPath: dir, ca: "ca.pem contents", cert: "cert.pem contents", key: "key.pem contents" },
    });
  });

  it("looks in ~/.docker, or DOCKER_CONFIG, when DOCKER_CERT_PATH is unset, like the docker CLI", () => {
    const home = mkdtempSync(path.join(tmpdir(), "runnerhub-home-"));
    const dotDocker = path.join(home, ".docker");
    const [missing] = problems({ DOCKER_HOST: "tcp://engine:2376", DOCKER_TLS_VERIFY: "1", HOME: home });
    expect(missing).toContain(path.join(dotDocker, "ca.pem"));
    const config = certDir();
    expect(
      connection({ DOCKER_HOST: "tcp://engine:2376", DOCKER_TLS_VERIFY: "1", HOME: home, DOCKER_CONFIG: config }),
    ).toMatchObject({ tls: { certPath: config } });
  });

  it("names each missing certificate file", () => {
    const dir = certDir(["ca.pem"]);
    const found = problems({ DOCKER_HOST: "tcp://engine:2376", DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: dir });
    expect(found).toHaveLength(2);
    expect(found[0]).toMatch(new RegExp(`^DOCKER_CERT_PATH: ${path.join(dir, "cert.pem")} does not exist`));
    expect(found[1]).toContain(path.join(dir, "key.pem"));
  });

  it("refuses settings that would silently speak plain HTTP or mean the opposite of what they say", () => {
    expect(problems({ DOCKER_HOST: "tcp://engine:2376", DOCKER_CERT_PATH: certDir() })[0]).toMatch(
      /DOCKER_CERT_PATH is set but DOCKER_TLS_VERIFY is not.*set DOCKER_TLS_VERIFY=1/,
    );
    expect(problems({ DOCKER_HOST: "tcp://engine:2376", DOCKER_TLS_VERIFY: "0" })[0]).toMatch(
      /^DOCKER_TLS_VERIFY: "0" would turn TLS on/,
    );
    expect(problems({ DOCKER_HOST: "tcp://engine:2376", DOCKER_TLS: "1" })[0]).toMatch(
      /^DOCKER_TLS: .*set DOCKER_TLS_VERIFY=1/,
    );
  });

  it("refuses other schemes, paths and bad ports", () => {
    expect(problems({ DOCKER_HOST: "https://engine:2376" })[0]).toMatch(/^DOCKER_HOST: "https:\/\/" is not supported/);
    expect(problems({ DOCKER_HOST: "engine:2376" })[0]).toMatch(/^DOCKER_HOST: /);
    expect(problems({ DOCKER_HOST: "tcp://engine:2376/v1.41" })[0]).toMatch(/has a path/);
    expect(problems({ DOCKER_HOST: "tcp://engine:0" })[0]).toMatch(/port 0 is not a port number/);
  });
});

describe("parseDockerHost: ssh", () => {
  it("reads user, host and port", () => {
    expect(connection({ DOCKER_HOST: "ssh://ci@build-1.example:2222" })).toEqual({
      kind: "ssh",
      host: "build-1.example",
      port: 2222,
      user: "ci",
    });
    expect(connection({ DOCKER_HOST: "ssh://build-1" })).toEqual({
      kind: "ssh",
      host: "build-1",
      port: undefined,
      user: undefined,
    });
  });

  it("refuses passwords, paths and TLS settings", () => {
    expect(problems({ DOCKER_HOST: "ssh://ci:pw@build-1" })[0]).toMatch(/cannot carry a password/);
    expect(problems({ DOCKER_HOST: "ssh://ci@build-1/var/run/docker.sock" })[0]).toMatch(/has a path after the host/);
    expect(problems({ DOCKER_HOST: "ssh://ci@build-1", DOCKER_TLS_VERIFY: "1" })[0]).toMatch(/tcp:\/\/ engines only/);
  });

  it("runs the docker CLI's ssh command, never prompting, with the host after --", () => {
    expect(sshArguments({ kind: "ssh", host: "build-1", port: 2222, user: "ci" }, 10_000)).toEqual([
      "-o",
      "BatchMode=yes",
      "-o",
      "ConnectTimeout=10",
      "-T",
      "-p",
      "2222",
      "-l",
      "ci",
      "--",
      "build-1",
      "docker",
      "system",
      "dial-stdio",
    ]);
  });
});

describe("describeConnection", () => {
  it("says where the engine is without certificate contents", () => {
    const dir = certDir();
    const tls = connection({ DOCKER_HOST: "tcp://engine:2376", DOCKER_TLS_VERIFY: "yes", DOCKER_CERT_PATH: dir });
    expect(describeConnection(tls)).toBe(`tcp://engine:2376 (TLS, certificates in ${dir})`);
    expect(describeConnection(connection({ DOCKER_HOST: "ssh://ci@b:22" }))).toBe("ssh://ci@b:22");
    expect(describeConnection(connection({}))).toBe("unix:///var/run/docker.sock");
  });
});
