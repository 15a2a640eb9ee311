/*
 * From a connection's first packet to its CONNACK: the first packet must be
 * CONNECT [MQTT-3.1.0-1], at protocol level 4 (CONNACK 1 otherwise), with
 * the client id equal to the username (CONNACK 2, device-auth.ts
 * `checkClientId`); a will is ignored and counted. Then the login throttle
 * (login-throttle.ts) says whether to verify the secret now, later or not
 * at all, and DeviceAuth verifies it (CONNACK 4 or 5 when wrong). Until the
 * session starts the connection reads nothing more: packets sent behind the
 * CONNECT wait in the frame reader and go to the session.
 */
import type { DeviceAuth } from "./device-auth.js";
import { CONNACK_BAD_USERNAME_OR_PASSWORD, CONNACK_IDENTIFIER_REJECTED, CONNACK_NOT_AUTHORIZED, checkClientId } from "./device-auth.js";
import type { DeviceConnection } from "./device-connection.js";
import type { DeviceSession } from "./device-session.js";
import type { ListenerRefusal, ListenerStats } from "./listener-stats.js";
import type { LoginThrottle } from "./login-throttle.js";
import type { FrameSink } from "./mqtt-frame-reader.js";
import { CONNACK_ACCEPTED, CONNACK_UNACCEPTABLE_PROTOCOL, CONNECT, connackBytes, frameBytes, parseWhole } from "./mqtt-wire.js";
import type { RefusalLog } from "./refusal-log.js";

/** MQTT 3.1.1's protocol level [MQTT-3.1.2-2]. */
const PROTOCOL_LEVEL = 4;
/** Client ids and usernames are the client's to choose; log lines quote at most this much of them. */
const MAX_QUOTED_CHARS = 64;

export interface ConnectHost {
  readonly auth: DeviceAuth;
  readonly throttle: LoginThrottle;
  readonly stats: ListenerStats;
  readonly refusals: RefusalLog;
  now(): number;
  refuse(reason: ListenerRefusal, key: string | null, message: string): void;
  /** The login succeeded: the session that takes over the connection, and whether a kept one was resumed. */
  loggedIn(connection: DeviceConnection, sensorId: string, clean: boolean, keepAliveMs: number): { session: DeviceSession; sessionPresent: boolean };
  downlinkReady(sensorId: string): void;
}

interface Login {
  clientId: string;
  username: string | undefined;
  password: Buffer | undefined;
  clean: boolean;
  keepAliveMs: number;
}

function quoted(text: string): string {
  return JSON.stringify(text.length > MAX_QUOTED_CHARS ? `${text.slice(0, MAX_QUOTED_CHARS)}…` : text);
}

export class ConnectFlow {
  readonly #host: ConnectHost;
  /** Connections whose CONNECT has arrived (the CONNECT deadline no longer applies). */
  readonly #received = new WeakSet<DeviceConnection>();
  /** Logins held back by the throttle, until their turn. */
  readonly #waiting = new Map<DeviceConnection, { timer: ReturnType<typeof setTimeout>; username: string }>();

  constructor(host: ConnectHost) {
    this.#host = host;
  }

  /** The frame sink of a connection that has not logged in. */
  sinkFor(connection: () => DeviceConnection): FrameSink {
    return (first, bytes, start, end) => {
      const c = connection();
      c.pause();
      if (!this.#received.has(c)) this.#connect(c, first, bytes, start, end);
      // Anything after the CONNECT waits for the session.
      return false;
    };
  }

  hasConnect(connection: DeviceConnection): boolean {
    return this.#received.has(connection);
  }

  /** The connection went: a login waiting for its turn is dropped. */
  closed(connection: DeviceConnection): void {
    const waiting = this.#waiting.get(connection);
    if (waiting === undefined) return;
    clearTimeout(waiting.timer);
    this.#waiting.delete(connection);
    this.#host.throttle.abandoned(connection.address, waiting.username);
  }

  #connect(c: DeviceConnection, first: number, bytes: Buffer, start: number, end: number): void {
    const host = this.#host;
    if (first >> 4 !== CONNECT) {
      host.refuse("not-connect-first", c.address, `closing a connection from ${c.address}: its first packet is of type ${first >> 4}, not CONNECT [MQTT-3.1.0-1]`);
      return c.close(false);
    }
    this.#received.add(c);
    const packet = parseWhole(frameBytes(first, bytes, start, end));
    if (packet instanceof Error || packet.cmd !== "connect") {
      host.refuse("malformed", c.address, `closing a connection from ${c.address}: unreadable CONNECT (${packet instanceof Error ? packet.message : packet.cmd})`);
      return c.close(false);
    }
    if (packet.protocolVersion !== PROTOCOL_LEVEL) {
      host.refuse("protocol-version", c.address, `refused CONNECT from ${c.address}: protocol level ${packet.protocolVersion}, only MQTT 3.1.1 (4) is spoken`);
      return this.#answer(c, CONNACK_UNACCEPTABLE_PROTOCOL);
    }
    const login: Login = {
      clientId: packet.clientId,
      username: packet.username,
      password: packet.password === undefined ? undefined : Buffer.from(packet.password),
      clean: packet.clean !== false,
      keepAliveMs: (packet.keepalive ?? 0) * 1000,
    };
    if (packet.will) {
      host.stats.willsIgnored++;
      host.refusals.warn(login.clientId, "will", `CONNECT from client ${quoted(login.clientId)} has a will: ignored, never published`, { clientId: login.clientId });
    }
    const idFault = checkClientId(login.clientId, login.username);
    if (idFault !== null) {
      host.refuse("identifier-rejected", login.clientId, `refused CONNECT from client ${quoted(login.clientId)}: ${idFault}`);
      return this.#answer(c, CONNACK_IDENTIFIER_REJECTED);
    }
    const username = login.username ?? "";
    const check = host.throttle.check(c.address, username, host.now());
    if (check.kind === "refuse") {
      if (check.why === "locked") {
        host.refuse("login-locked-out", login.clientId, `refused CONNECT from client ${quoted(login.clientId)} at ${c.address}: too many failed logins for this sensor from this address, the secret is not checked until mqtt.login.forgetAfterMs after the last`);
      } else {
        host.refuse("login-busy", login.clientId, `refused CONNECT from client ${quoted(login.clientId)} at ${c.address}: another login for this sensor from this address is being slowed after failed ones`);
      }
      return this.#answer(c, CONNACK_NOT_AUTHORIZED);
    }
    if (check.kind === "go") return this.#verify(c, login);
    host.stats.loginsDelayed++;
    const timer = setTimeout(() => {
      this.#waiting.delete(c);
      if (c.closed) host.throttle.abandoned(c.address, username);
      else this.#verify(c, login);
    }, check.ms);
    this.#waiting.set(c, { timer, username });
  }

  #verify(c: DeviceConnection, login: Login): void {
    const host = this.#host;
    const verdict = host.auth.connect(login.clientId, login.username, login.password);
    if (!verdict.ok) {
      host.throttle.failed(c.address, login.username ?? "", host.now());
      return this.#answer(c, verdict.returnCode === CONNACK_NOT_AUTHORIZED ? CONNACK_NOT_AUTHORIZED : CONNACK_BAD_USERNAME_OR_PASSWORD);
    }
    host.throttle.succeeded(c.address, verdict.sensorId);
    const { session, sessionPresent } = host.loggedIn(c, verdict.sensorId, login.clean, login.keepAliveMs);
    c.write(connackBytes(CONNACK_ACCEPTED, sessionPresent));
    c.setSink(session.frame);
    c.resume();
    c.readKept();
    if (!session.closed && session.state.subscribed) host.downlinkReady(verdict.sensorId);
  }

  /** A refusing CONNACK, then the close [MQTT-3.2.2-5]. */
  #answer(c: DeviceConnection, returnCode: number): void {
    c.write(connackBytes(returnCode, false));
    c.close(true);
  }
}
