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
 * listener-servers.ts (the TCP and TLS servers), device-connection.ts (a
 * socket), connect-flow.ts (CONNECT to CONNACK), device-session.ts (after
 * CONNACK), device-downlink.ts.
 */
import type { Socket } from "node:net";
import type { Logger } from "../../log/logger.js";
import { ConnectFlow, type ConnectHost } from "./connect-flow.js";
import { DeviceAuth, type AuthCounters } from "./device-auth.js";
import { DeviceConnection, type ConnectionEvents } from "./device-connection.js";
import { ListenerDownlink } from "./device-downlink.js";
import { DeviceSession, type PublishIntake, type SessionHost, type SessionState } from "./device-session.js";
import type { DeviceDownlink } from "./downlink.js";
import { ConnectionGuard, listenerLimits, type AdmissionRefusal, type ListenerLimits } from "./listener-limits.js";
import { emptyListenerStats, type ListenerRefusal, type ListenerStats } from "./listener-stats.js";
import { openServers, type ListenerServers } from "./listener-servers.js";
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

  /** A new raw connection: refused at once over a cap, else given its CONNECT deadline and, once there is a device socket, a connection. */
  function admit(socket: Socket): ((device: Socket) => void) | undefined {
    const address = socket.remoteAddress;
    if (address === undefined) return void socket.destroy(); // already gone
    const refusal = guard.admit(address);
    if (refusal !== null) {
      refuse(refusal, address, `refused a connection from ${address}: ${ADMISSION_TEXT[refusal]}`);
      socket.destroy();
      return undefined;
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
    return (device) => {
      connection = new DeviceConnection(device, address, limits.maxPacketBytes, connectFlow.sinkFor(() => connection!), connectionEvents, now);
      connections.add(connection);
    };
  }

  const connectionEvents: ConnectionEvents = {
    fault: (c, fault) => {
      if (fault.fault === "too-large") refuse("packet-too-large", c.address, `closing a connection from ${c.address}: a packet of ${fault.packetBytes} bytes (type ${fault.first >> 4}) exceeds mqtt.maxPacketBytes (${limits.maxPacketBytes})`);
      else refuse(fault.fault, c.address, `closing a connection from ${c.address}: ${fault.detail}`);
      const session = sessionOf.get(c);
      if (session) session.end(false);
      else c.close(false);
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
  };

  let servers: ListenerServers;
  try {
    servers = await openServers({
      host: options.host,
      port: options.port,
      tls: options.tls && tlsOptions ? { host: options.tls.host, port: options.tls.port, options: tlsOptions, handshakeTimeoutMs: limits.connectTimeoutMs } : undefined,
      admit,
      tlsFailed(error, raw) {
        auth.countTlsFailure();
        refusals.warn(raw.remoteAddress ?? null, "tls-failed", `TLS connection from ${raw.remoteAddress ?? "?"} failed: ${error.message}`, { remote: raw.remoteAddress, error });
      },
      log,
    });
  } catch (e) {
    stopRevocations?.();
    throw e;
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

  return {
    host: options.host,
    port: servers.port,
    tlsPort: servers.tlsPort,
    downlink,
    limits,
    connectedClients: () => sessions.size,
    authCounters: () => auth.counters(),
    stats: () => ({ ...stats, connections: guard.connections, unauthenticated: guard.unauthenticated, sessions: sessions.size, refusedByReason: { ...stats.refusedByReason }, downlink: { ...stats.downlink }, reports: { ...stats.reports } }),
    stopAccepting: () => servers.stopAccepting(),
    async close() {
      servers.stopAccepting();
      clearInterval(sweep);
      stopRevocations?.();
      for (const { session } of sessions.values()) session.end(false);
      for (const connection of connections) connection.close(false);
      servers.destroyPending();
      await servers.closed;
    },
  };
}
