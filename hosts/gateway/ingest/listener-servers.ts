/*
 * The device listener's TCP and TLS servers. Every connection is offered to
 * `admit` as a raw TCP socket, before a byte is read and, for TLS, before
 * the handshake costs anything: admit refuses it (and destroys it) or
 * returns what to do with the device socket once there is one — the same
 * socket for plain TCP, the TLS socket after its handshake.
 */
import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, type TlsOptions } from "node:tls";
import type { Logger } from "../../log/logger.js";

export interface ServersOptions {
  host: string;
  /** Null: no plain listener. */
  port: number | null;
  tls?: { host?: string; port: number; options: TlsOptions; handshakeTimeoutMs: number };
  /** A raw connection: undefined when refused (the socket is the caller's to destroy), else where its device socket goes. */
  admit(raw: Socket): ((device: Socket) => void) | undefined;
  /** A TLS handshake failed (counted and logged by the caller). */
  tlsFailed(error: Error, raw: Socket): void;
  log: Logger;
}

export interface ListenerServers {
  /** The ports really bound (0 picks one); null or undefined when there is no such listener. */
  readonly port: number | null;
  readonly tlsPort: number | undefined;
  stopAccepting(): void;
  /** Destroys the raw sockets still in their TLS handshake. */
  destroyPending(): void;
  /** Settles once every server has closed (after stopAccepting). */
  readonly closed: Promise<void>;
}

interface Listener {
  server: Server;
  host: string;
  /** As requested until listening; then the port really bound (0 picks one). */
  port: number;
  what: string;
  tls?: boolean;
}

export async function openServers(options: ServersOptions): Promise<ListenerServers> {
  // Admitted raw TLS sockets awaiting their handshake, by address and port (which the TLS socket has too).
  const pendingTls = new Map<string, { raw: Socket; open: (device: Socket) => void }>();
  const listeners: Listener[] = [];
  if (options.port !== null) {
    const plain: Server = createServer({ noDelay: true }, (socket) => options.admit(socket)?.(socket));
    listeners.push({ server: plain, port: options.port, host: options.host, what: "mqtt" });
  }
  if (options.tls) {
    const tlsServer = createTlsServer({ ...options.tls.options, handshakeTimeout: options.tls.handshakeTimeoutMs }, (device) => {
      const key = `${device.remoteAddress}|${device.remotePort}`;
      const pending = pendingTls.get(key);
      if (pending === undefined) return void device.destroy();
      pendingTls.delete(key);
      device.setNoDelay(true);
      pending.open(device);
    });
    // "connection" is the raw TCP socket, before (and whatever becomes of) the handshake: the caps apply there.
    tlsServer.on("connection", (raw: Socket) => {
      const open = options.admit(raw);
      if (open === undefined) return;
      const key = `${raw.remoteAddress}|${raw.remotePort}`;
      pendingTls.set(key, { raw, open });
      raw.once("close", () => pendingTls.delete(key));
    });
    tlsServer.on("tlsClientError", (error, raw) => options.tlsFailed(error, raw));
    listeners.push({ server: tlsServer, port: options.tls.port, host: options.tls.host ?? options.host, what: "mqtt over TLS", tls: true });
  }
  if (listeners.length === 0) throw new RangeError("no MQTT listener: give a plain port, TLS, or both");
  try {
    for (const listener of listeners) await listen(listener);
  } catch (e) {
    for (const { server } of listeners) if (server.listening) server.close();
    throw e;
  }
  for (const { server, host, port, what } of listeners) {
    server.on("error", (error) => options.log.error(`${what} listener error`, { error }));
    options.log.info(`${what} listening on ${host}:${port}`, { host, port });
  }
  const closed = Promise.all(listeners.map(({ server }) => new Promise<void>((resolve) => server.once("close", resolve)))).then(() => {});
  let accepting = true;
  return {
    port: listeners.find((l) => !l.tls)?.port ?? null,
    tlsPort: listeners.find((l) => l.tls)?.port,
    stopAccepting() {
      if (!accepting) return;
      accepting = false;
      for (const { server } of listeners) server.close();
    },
    destroyPending() {
      for (const { raw } of pendingTls.values()) raw.destroy();
    },
    closed,
  };
}

async function listen(listener: Listener): Promise<void> {
  const { server } = listener;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listener.port, listener.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (typeof address === "object" && address) listener.port = address.port;
}
