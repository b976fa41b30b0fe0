import { spawn } from "node:child_process";
import { Agent, type ClientRequestArgs } from "node:http";
import { Duplex } from "node:stream";
import type { DockerConnection } from "../config/docker-host.js";

type SshConnection = Extract<DockerConnection, { kind: "ssh" }>;

/**
 * The docker CLI's ssh transport: the system ssh client (so ~/.ssh/config, known_hosts and the
 * agent apply as they do for `docker -H ssh://…`) runs `docker system dial-stdio` on the engine's
 * host, which pipes its stdio to the engine's socket. BatchMode: a server has nobody to answer a prompt.
 */
export function sshArguments(connection: SshConnection, connectTimeoutMs: number): string[] {
  return [
    "-o",
    "BatchMode=yes",
    "-o",
    `ConnectTimeout=${Math.max(1, Math.ceil(connectTimeoutMs / 1000))}`,
    "-T",
    ...(connection.port === undefined ? [] : ["-p", String(connection.port)]),
    ...(connection.user === undefined ? [] : ["-l", connection.user]),
    "--",
    connection.host,
    "docker",
    "system",
    "dial-stdio",
  ];
}

/** An HTTP agent whose every connection is one ssh session to the engine's host. */
class SshDialAgent extends Agent {
  constructor(
    private readonly command: string,
    private readonly args: string[],
    private readonly where: string,
  ) {
    super({ keepAlive: false });
  }

  override createConnection(_options: ClientRequestArgs): Duplex {
    const child = spawn(this.command, this.args, { stdio: ["pipe", "pipe", "pipe"] });
    let stderr = "";
    const socket = new Duplex({
      read: () => child.stdout.resume(),
      // A write fails only when ssh is going away; its exit (below) says why, better than EPIPE.
      write: (chunk: Buffer, _encoding, done) => child.stdin.write(chunk, () => done()),
      final: (done) => child.stdin.end(() => done()),
      destroy: (error, done) => {
        child.kill();
        done(error);
      },
    });
    child.stdout.on("data", (chunk: Buffer) => {
      if (!socket.push(chunk)) child.stdout.pause();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-2000);
    });
    child.stdin.on("error", () => undefined);
    child.once("error", (error) =>
      socket.destroy(
        new Error(`could not run ${this.command} for ${this.where} (${error.message}); install an OpenSSH client`),
      ),
    );
    // The stream ends only once ssh has exited, so a refused session fails with ssh's own words
    // rather than the HTTP client's "socket hang up".
    child.once("close", (code) => {
      if (code === 0 || code === null) socket.push(null);
      else socket.destroy(new Error(`ssh to ${this.where} exited with code ${code}: ${stderr.trim() || "no message"}`));
    });
    return socket;
  }
}

/** `command` is the ssh client to run; tests substitute a stand-in. */
export function sshDialAgent(
  connection: SshConnection,
  where: string,
  connectTimeoutMs: number,
  command = "ssh",
): Agent {
  return new SshDialAgent(command, sshArguments(connection, connectTimeoutMs), where);
}
