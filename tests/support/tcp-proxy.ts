/*
 * A TCP proxy on loopback between a client and a server, for the faults a
 * real network has and a server process cannot fake: a connection that goes
 * silent both ways while staying open (a half-open link, a NAT that dropped
 * its mapping: no FIN, no RST, nothing), and a connection reset (RST).
 */
import { connect, createServer, type Server, type Socket } from "node:net";

interface Pair {
  client: Socket;
  server: Socket;
  silent: boolean;
}

export class TcpProxy {
  readonly port: number;
  readonly #server: Server;
  readonly #pairs = new Set<Pair>();
  /** New connections are held silent too while set. */
  #silenceNew = false;
  /** Connections accepted so far. */
  connections = 0;

  private constructor(server: Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  static async start(targetPort: number): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = createServer((client) => proxy!.#accept(client, targetPort));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (typeof address !== "object" || address === null) throw new Error("proxy has no port");
    proxy = new TcpProxy(server, address.port);
    return proxy;
  }

  get target(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Every open connection stops carrying bytes either way and stays open; `alsoNew`: so do connections made from now on. */
  silence(alsoNew = false): void {
    for (const pair of this.#pairs) pair.silent = true;
    this.#silenceNew = alsoNew;
  }

  /** Connections made from now on carry bytes again (silenced ones stay silent). */
  restore(): void {
    this.#silenceNew = false;
  }

  /** Resets (RST) every open connection, both sides. */
  reset(): void {
    for (const pair of this.#pairs) {
      pair.client.resetAndDestroy();
      pair.server.resetAndDestroy();
    }
    this.#pairs.clear();
  }

  async close(): Promise<void> {
    for (const pair of this.#pairs) {
      pair.client.destroy();
      pair.server.destroy();
    }
    this.#pairs.clear();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket, targetPort: number): void {
    this.connections++;
    const server = connect(targetPort, "127.0.0.1");
    const pair: Pair = { client, server, silent: this.#silenceNew };
    this.#pairs.add(pair);
    // Bytes are dropped, not buffered, while silent: what a dead link does.
    client.on("data", (chunk) => {
      if (!pair.silent) server.write(chunk);
    });
    server.on("data", (chunk) => {
      if (!pair.silent) client.write(chunk);
    });
    const drop = () => {
      this.#pairs.delete(pair);
      client.destroy();
      server.destroy();
    };
    client.on("close", drop);
    server.on("close", drop);
    client.on("error", drop);
    server.on("error", drop);
  }
}
