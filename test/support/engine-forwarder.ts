import net from "node:net";

/**
 * A loopback TCP front for a Docker engine's unix socket, that can lose power: from cutPower() on,
 * every connection, open or new, stays open and is never answered, which is what a powered-off
 * remote host looks like to a client (hangs, not errors). restorePower() is the host back after a
 * reboot: connections held meanwhile are reset, new ones reach the engine again.
 */
export class EngineForwarder {
  private powered = true;
  private readonly links = new Set<{ client: net.Socket; upstream: net.Socket }>();
  private readonly held = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(socketPath: string): Promise<EngineForwarder> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const forwarder = new EngineForwarder(server, (server.address() as net.AddressInfo).port);
    server.on("connection", (client) => forwarder.accept(client, socketPath));
    return forwarder;
  }

  /** DOCKER_HOST for a worker behind this forwarder. */
  get dockerHost(): string {
    return `tcp://127.0.0.1:${this.port}`;
  }

  private accept(client: net.Socket, socketPath: string): void {
    client.on("error", () => client.destroy());
    if (!this.powered) return this.hold(client);
    const upstream = net.connect(socketPath);
    const link = { client, upstream };
    this.links.add(link);
    upstream.on("error", () => client.destroy());
    const forget = () => this.links.delete(link);
    client.on("close", () => {
      forget();
      upstream.destroy();
    });
    upstream.on("close", () => {
      forget();
      if (this.powered) client.destroy();
    });
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Reads and drops whatever the client sends, answering nothing. */
  private hold(client: net.Socket): void {
    this.held.add(client);
    client.on("close", () => this.held.delete(client));
    client.unpipe();
    client.removeAllListeners("data");
    client.on("data", () => undefined);
    client.resume();
  }

  cutPower(): void {
    this.powered = false;
    for (const { client, upstream } of this.links) {
      upstream.unpipe(client);
      upstream.destroy();
      this.hold(client);
    }
    this.links.clear();
  }

  restorePower(): void {
    this.powered = true;
    for (const client of this.held) client.destroy();
    this.held.clear();
  }

  async stop(): Promise<void> {
    this.restorePower();
    for (const { client } of this.links) client.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
