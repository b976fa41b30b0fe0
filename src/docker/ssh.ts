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
    const socket = Duplex.from({ readable: child.stdout, writable: child.stdin });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-2000);
    });
    child.once("error", (error) =>
      socket.destroy(
        new Error(`could not run ${this.command} for ${this.where} (${error.message}); install an OpenSSH client`),
      ),
    );
    child.once("exit", (code) => {
      if (code !== 0 && code !== null) {
        socket.destroy(new Error(`ssh to ${this.where} exited with code ${code}: ${stderr.trim() || "no message"}`));
      }
    });
    socket.once("close", () => child.kill());
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
