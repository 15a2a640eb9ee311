/*
 * The gateway's MQTT listener for devices (plain TCP and TLS): MQTT 3.1.1
 * as devices use it, and nothing more. A device logs in (CONNECT:
 * username = sensor id = client id, password = its secret), publishes its
 * records at QoS 1 on `xsedge/v1/<sensorId>/up` and gets each PUBACK once
 * the record is committed (the outbox's group commit); it may publish
 * reports on its report topic and subscribe to its own downlink topic
 * (downlink.ts). Every other packet, topic or flag is refused, counted by
 * reason (listener-stats.ts) and logged through the refusal throttle.
 *
 * Why not a general broker: devices never talk to each other, so a
 * broker's routing, retained messages, wills and topic trees are all cost
 * and attack surface. The uplink path reads PUBLISH by hand
 * (mqtt-wire.ts) and writes the PUBACKs of a commit in one write per
 * connection (device-session.ts).
 *
 * A refused payload (malformed, foreign topic, another sensor's record) is
 * quarantined and counted by ingest, and acknowledged: MQTT 3.1.1 has no
 * negative PUBACK, and a device never acknowledged would resend it forever.
 * Only a publish that could not be committed (the store failed) or that
 * the outbox refuses for overload (rate limit, backpressure) gets no PUBACK:
 * the connection is closed and the device keeps the record for later.
 *
 * Every way in is bounded before anything is buffered (listener-limits.ts):
 * packets by size, connections in all, per address and before login, the
 * time to CONNECT, and failed logins (login-throttle.ts). The pieces:
 * device-connection.ts (a socket), device-session.ts (after CONNACK),
 * connect-flow.ts (CONNECT to CONNACK), device-downlink.ts.
 */
import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import type { Logger } from "../../log/logger.js";
import { ConnectFlow, type ConnectHost } from "./connect-flow.js";
import { DeviceAuth, type AuthCounters } from "./device-auth.js";
import { DeviceConnection } from "./device-connection.js";
import { ListenerDownlink } from "./device-downlink.js";
import { DeviceSession, type PublishIntake, type SessionHost, type SessionState } from "./device-session.js";
import type { DeviceDownlink } from "./downlink.js";
import { ConnectionGuard, listenerLimits, type AdmissionRefusal, type ListenerLimits } from "./listener-limits.js";
import { emptyListenerStats, type ListenerRefusal, type ListenerStats } from "./listener-stats.js";
import { LoginThrottle, type LoginThrottleLimits } from "./login-throttle.js";
import { loadTlsServerOptions, type MqttTlsOptions } from "./mqtt-tls.js";
import { RefusalLog } from "./refusal-log.js";
import type { SensorRegistry } from "./sensor-registry.js";

export type { PublishIntake } from "./device-session.js";

/** How often keep-alive deadlines are checked: a device may be this much later than 1.5 × its keep-alive before it is dropped. */
const KEEP_ALIVE_SWEEP_MS = 500;

export interface DeviceListenerOptions {
  host: string;
  /** 0 picks an ephemeral port; see `DeviceListener.port`. Null: no plain listener (TLS only). */
  port: number | null;
  intake: PublishIntake;
  /** Who may connect: username = sensor id, password = its secret. */
  registry: SensorRegistry;
  /** A second listener for devices, over TLS. */
  tls?: MqttTlsOptions;
  limits?: Partial<ListenerLimits>;
  loginThrottle?: Partial<LoginThrottleLimits>;
  logger: Logger;
  /** The clock of deadlines, keep-alive, the login throttle and the refusal log; Date.now by default. */
  now?: () => number;
}

export interface DeviceListener {
  readonly host: string;
  /** The plain listener's port really listened on; null when there is none (TLS only). */
  readonly port: number | null;
  /** The TLS listener's port, when there is one. */
  readonly tlsPort: number | undefined;
  readonly downlink: DeviceDownlink;
  readonly limits: Readonly<ListenerLimits>;
  /** Authenticated device sessions. */
  connectedClients(): number;
  authCounters(): AuthCounters;
  stats(): ListenerStats;
  /** Stops accepting connections; connected devices stay until `close`. */
  stopAccepting(): void;
  /** Disconnects every device and closes the listeners. */
  close(): Promise<void>;
}

const ADMISSION_TEXT: Record<AdmissionRefusal, string> = {
  "too-many-connections": "mqtt.maxConnections reached",
  "too-many-from-address": "mqtt.maxConnectionsPerAddress reached for this address",
  "too-many-unauthenticated": "mqtt.maxUnauthenticated connections are waiting to log in",
  "too-many-unauthenticated-from-address": "mqtt.maxUnauthenticatedPerAddress connections from this address are waiting to log in",
};

export async function startDeviceListener(options: DeviceListenerOptions): Promise<DeviceListener> {
  const log = options.logger;
  const now = options.now ?? Date.now;
  const limits = listenerLimits(options.limits);
  // Read before anything starts, so a bad file fails the start with its name.
  const tlsOptions = options.tls ? loadTlsServerOptions(options.tls) : undefined;
  const auth = new DeviceAuth(options.registry, log, now);
  const refusals = new RefusalLog(log, now);
  const stats = emptyListenerStats();
  const guard = new ConnectionGuard(limits);
  const sessions = new Map<string, { session: DeviceSession; connection: DeviceConnection }>();
  /** Each logged-in connection's session. */
  const sessionOf = new WeakMap<DeviceConnection, DeviceSession>();
  /** Sessions of clean-session-0 logins, kept between connections (only registered sensors get one). */
  const kept = new Map<string, SessionState>();
  const connections = new Set<DeviceConnection>();
  const downlink = new ListenerDownlink((sensorId) => sessions.get(sensorId)?.session, limits.maxPacketBytes, log);

  const refuse = (reason: ListenerRefusal, key: string | null, message: string) => {
    stats.refusedByReason[reason]++;
    refusals.warn(key, reason, message, { reason, clientId: key ?? undefined });
  };

  // PUBACKs of a commit, one write per session, once every outcome of the commit is in (its callbacks run in one turn).
  const toFlush = new Set<DeviceSession>();
  let flushScheduled = false;
  const flushAll = () => {
    for (const session of toFlush) {
      toFlush.delete(session);
      session.flushAcks();
    }
    flushScheduled = false;
  };
  const sessionHost: SessionHost = {
    intake: options.intake,
    auth,
    stats,
    refusals,
    log,
    maxInFlight: limits.maxInFlight,
    report: () => downlink.report,
    needsFlush(session) {
      toFlush.add(session);
      if (!flushScheduled) {
        flushScheduled = true;
        queueMicrotask(flushAll);
      }
    },
    downlinkReady: (session) => downlink.ready(session.sensorId),
    refuse,
  };

  const connectHost: ConnectHost = {
    auth,
    throttle: new LoginThrottle(options.loginThrottle),
    stats,
    refusals,
    now,
    refuse,
    loggedIn(connection, sensorId, clean, keepAliveMs) {
      guard.authenticated(connection.address);
      connection.authenticated = true;
      const existing = sessions.get(sensorId);
      if (existing !== undefined) {
        // [MQTT-3.1.4-2]; only the sensor's own secret gets here, so one device cannot cut off another.
        stats.takeovers++;
        log.info(`${sensorId} logged in again: closing its previous connection`, { sensorId });
        existing.session.end(false);
      }
      const before = kept.get(sensorId);
      if (clean) kept.delete(sensorId);
      const state: SessionState = (clean ? undefined : before) ?? { subscribed: false };
      if (!clean) kept.set(sensorId, state);
      const session = new DeviceSession(sessionHost, connection, sensorId, state, keepAliveMs);
      sessions.set(sensorId, { session, connection });
      sessionOf.set(connection, session);
      return { session, sessionPresent: !clean && before !== undefined };
    },
    downlinkReady: (sensorId) => downlink.ready(sensorId),
  };
  const connectFlow = new ConnectFlow(connectHost);

  const stopRevocations = options.registry.onRevoked?.((sensorId) => {
    kept.delete(sensorId);
    const live = sessions.get(sensorId);
    if (live === undefined) return;
    stats.revoked++;
    log.info(`registration of ${sensorId} changed: closing the session it logged in with`, { sensorId });
    live.session.end(false);
  });

  function accept(socket: Socket, tls: boolean): void {
    const address = socket.remoteAddress;
    if (address === undefined) return void socket.destroy(); // already gone
    const refusal = guard.admit(address);
    if (refusal !== null) {
      refuse(refusal, address, `refused a connection from ${address}: ${ADMISSION_TEXT[refusal]}`);
      socket.destroy();
      return;
    }
    let connection: DeviceConnection | undefined;
    const deadline = setTimeout(() => {
      if (connection?.authenticated || (connection && connectFlow.hasConnect(connection))) return;
      refuse("connect-timeout", address, `no CONNECT from ${address} within mqtt.connectTimeoutMs (${limits.connectTimeoutMs} ms)`);
      if (connection) connection.close(false);
      else socket.destroy();
    }, limits.connectTimeoutMs);
    socket.once("close", () => {
      clearTimeout(deadline);
      guard.released(address, connection?.authenticated ?? false);
    });
    const open = (device: Socket) => {
      connection = new DeviceConnection(device, address, limits.maxPacketBytes, connectFlow.sinkFor(() => connection!), {
        fault: (c, fault) => {
          if (fault.fault === "too-large") refuse("packet-too-large", c.address, `closing a connection from ${c.address}: a packet of ${fault.packetBytes} bytes (type ${fault.first >> 4}) exceeds mqtt.maxPacketBytes (${limits.maxPacketBytes})`);
          else refuse("malformed", c.address, `closing a connection from ${c.address}: ${fault.detail}`);
          closeConnection(c);
        },
        closed: (c) => {
          connections.delete(c);
          connectFlow.closed(c);
          if (!c.closedHere && !connectFlow.hasConnect(c)) {
            stats.closedBeforeConnect++;
            refusals.warn(c.address, "before-connect", `connection from ${c.address} closed before CONNECT`, { remote: c.address });
          }
          const session = sessionOf.get(c);
          if (session === undefined) return;
          if (sessions.get(session.sensorId)?.session === session) sessions.delete(session.sensorId);
          session.ended();
        },
      }, now);
      connections.add(connection);
    };
    if (!tls) return open(socket);
    // The TLS socket comes later ("secureConnection"); it has the raw socket's address and port.
    const key = `${address}|${socket.remotePort}`;
    pendingTls.set(key, { raw: socket, open });
    socket.once("close", () => pendingTls.delete(key));
  }

  function closeConnection(connection: DeviceConnection): void {
    const session = sessionOf.get(connection);
    if (session) session.end(false);
    else connection.close(false);
  }

  const pendingTls = new Map<string, { raw: Socket; open: (device: Socket) => void }>();
  const listeners: Listener[] = [];
  if (options.port !== null) {
    const plain: Server = createServer({ noDelay: true }, (socket) => accept(socket, false));
    listeners.push({ server: plain, port: options.port, host: options.host, what: "mqtt" });
  }
  if (options.tls && tlsOptions) {
    const tlsServer = createTlsServer({ ...tlsOptions, handshakeTimeout: limits.connectTimeoutMs }, (device) => {
      const key = `${device.remoteAddress}|${device.remotePort}`;
      const pending = pendingTls.get(key);
      if (pending === undefined) return void device.destroy();
      pendingTls.delete(key);
      device.setNoDelay(true);
      pending.open(device);
    });
    // "connection" is the raw TCP socket, before (and whatever becomes of) the handshake: the caps apply there.
    tlsServer.on("connection", (raw: Socket) => accept(raw, true));
    tlsServer.on("tlsClientError", (error, socket) => {
      auth.countTlsFailure();
      refusals.warn(socket.remoteAddress ?? null, "tls-failed", `TLS connection from ${socket.remoteAddress ?? "?"} failed: ${error.message}`, { remote: socket.remoteAddress, error });
    });
    listeners.push({ server: tlsServer, port: options.tls.port, host: options.tls.host ?? options.host, what: "mqtt over TLS", tls: true });
  }
  if (listeners.length === 0) throw new RangeError("no MQTT listener: give a plain port, TLS, or both");
  try {
    for (const listener of listeners) await listen(listener);
  } catch (e) {
    for (const { server } of listeners) if (server.listening) server.close();
    stopRevocations?.();
    throw e;
  }
  for (const { server, host, port, what } of listeners) {
    server.on("error", (error) => log.error(`${what} listener error`, { error }));
    log.info(`${what} listening on ${host}:${port}`, { host, port });
  }

  const sweep = setInterval(() => {
    const at = now();
    for (const { session, connection } of sessions.values()) {
      if (session.keepAliveMs === 0 || at - connection.lastActivity <= 1.5 * session.keepAliveMs) continue;
      // [MQTT-3.1.2-24]
      refuse("keep-alive-timeout", session.sensorId, `closing the connection of ${session.sensorId}: nothing for 1.5 × its keep-alive of ${session.keepAliveMs / 1000} s`);
      session.end(false);
    }
  }, KEEP_ALIVE_SWEEP_MS);
  sweep.unref();

  const serversClosed = Promise.all(listeners.map(({ server }) => new Promise<void>((resolve) => server.once("close", resolve))));
  let accepting = true;
  function stopAccepting(): void {
    if (!accepting) return;
    accepting = false;
    for (const { server } of listeners) server.close();
  }

  return {
    host: options.host,
    port: listeners.find((l) => !l.tls)?.port ?? null,
    tlsPort: listeners.find((l) => l.tls)?.port,
    downlink,
    limits,
    connectedClients: () => sessions.size,
    authCounters: () => auth.counters(),
    stats: () => ({ ...stats, connections: guard.connections, unauthenticated: guard.unauthenticated, sessions: sessions.size, refusedByReason: { ...stats.refusedByReason }, downlink: { ...stats.downlink }, reports: { ...stats.reports } }),
    stopAccepting,
    async close() {
      stopAccepting();
      clearInterval(sweep);
      stopRevocations?.();
      for (const { session } of sessions.values()) session.end(false);
      for (const connection of connections) connection.close(false);
      for (const { raw } of pendingTls.values()) raw.destroy();
      await serversClosed;
    },
  };
}

interface Listener {
  server: Server;
  host: string;
  /** As requested until listening; then the port really bound (0 picks one). */
  port: number;
  what: string;
  tls?: boolean;
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
