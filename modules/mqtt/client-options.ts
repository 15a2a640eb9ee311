/*
 * What MqttClient is given and what it reports: the ECMA-419 TCP interface it
 * drives, its options with their defaults, and its counters. Apart from the
 * client so that a host (board, simulator, test) can build options without
 * pulling in the client.
 */

/** The part of an ECMA-419 TCP socket (embedded:io/socket/tcp) this client uses. */
export interface TcpSocket {
  /** With format "buffer": up to `count` bytes, or undefined when none are waiting. */
  read(count?: number): ArrayBuffer | number | undefined;
  /** Throws if `buffer` is larger than the last onWritable count allows. */
  write(buffer: Uint8Array): void;
  close(): void;
}

export interface TcpOptions {
  address: string;
  port: number;
  nodelay?: boolean;
  format?: "buffer";
  onReadable(this: TcpSocket, count: number): void;
  onWritable(this: TcpSocket, count: number): void;
  onError(this: TcpSocket, message?: string): void;
}

export type TcpConstructor = new (options: TcpOptions) => TcpSocket;

export interface Timers {
  set(callback: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/**
 * Eight unacknowledged messages let a 100 ms round trip carry 80 messages a
 * second, far above what the sensors produce, while a dead link holds at most
 * eight records out of the flash log (and 8 × 256 bytes of RAM).
 */
export const MAX_IN_FLIGHT = 8;
/** Per-slot limit, allocated maxInFlight times: an observation record is under 60 bytes and its topic under 64. */
export const MAX_OUTGOING_PACKET_BYTES = 256;
/** Under the idle timeout of common NAT and cellular gateways (a few minutes), so the mapping survives. */
export const DEFAULT_KEEP_ALIVE_SECONDS = 60;
/** A PINGRESP is one round trip of 2 bytes; 10 s allows for a congested radio link. */
export const DEFAULT_PING_TIMEOUT_MS = 10_000;
/** From opening the socket to CONNACK: covers TCP connect plus the broker's authentication. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** A second recovers quickly from a Wi-Fi blip without hammering a broker that is restarting. */
export const RECONNECT_MIN_MS = 1_000;
/** A minute bounds the outage a device adds after the broker returns. */
export const RECONNECT_MAX_MS = 60_000;
/** Share of each backoff delay that is random, so a fleet that lost its broker does not return in step. */
export const RECONNECT_JITTER = 0.5;
/** Topics one client subscribes to: a device needs its downlink, and each costs a packet buffer. */
export const MAX_SUBSCRIPTIONS = 4;
/** Incoming QoS 1 messages whose PUBACK waits for socket space; more means the link is stuck. */
export const MAX_PENDING_PUBACKS = 4;

export interface MqttClientOptions {
  /** The ECMA-419 TCP class and where to connect, as a board's host provider gives it. */
  socket: { io: TcpConstructor; address: string; port: number };
  clientId: string;
  /** Default false: the broker may keep the session, and when CONNACK says it did, re-sent messages carry DUP=1. */
  cleanSession?: boolean;
  keepAliveSeconds?: number;
  username?: string;
  password?: Uint8Array;
  timers: Timers;
  /** Monotonic milliseconds. */
  now(): number;
  /** [0, 1) for backoff jitter; defaults to Math.random. */
  random?(): number;
  maxInFlight?: number;
  maxPacketBytes?: number;
  maxIncomingPacketBytes?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  pingTimeoutMs?: number;
  connectTimeoutMs?: number;
  onConnect?(sessionPresent: boolean): void;
  /** A connection that had been accepted (onConnect) ended. */
  onDisconnect?(reason: string): void;
  onAck?(token: unknown): void;
  /**
   * Exact topics to subscribe to with QoS 1 on every connection (at most
   * MAX_SUBSCRIPTIONS): what the broker may send this client.
   */
  subscriptions?: readonly string[];
  /** The broker answered a SUBSCRIBE: granted, or refused (SUBACK 0x80). */
  onSubscribe?(topic: string, granted: boolean): void;
  onError?(message: string): void;
  /** An incoming PUBLISH; `payload` is valid only during the call. */
  onMessage?(topic: string, payload: Uint8Array, retain: boolean): void;
}

export interface MqttClientStats {
  attempts: number; connects: number; reconnects: number; refused: number;
  published: number; sent: number; resent: number; acked: number; unknownAcks: number;
  received: number; rejected: number; pingsSent: number; pingTimeouts: number; connectTimeouts: number;
  socketErrors: number; protocolErrors: number; overruns: number; callbackErrors: number;
  subscribed: number; subscribeRefused: number;
}

export function newStats(): MqttClientStats {
  return {
    attempts: 0, connects: 0, reconnects: 0, refused: 0, published: 0, sent: 0, resent: 0, acked: 0, unknownAcks: 0,
    received: 0, rejected: 0, pingsSent: 0, pingTimeouts: 0, connectTimeouts: 0, socketErrors: 0, protocolErrors: 0,
    overruns: 0, callbackErrors: 0, subscribed: 0, subscribeRefused: 0,
  };
}

/**
 * Delay before attempt `failures + 1`: min·2^failures capped at max, less a
 * random share of up to RECONNECT_JITTER. `random` is in [0, 1).
 */
export function backoffDelay(failures: number, minMs: number, maxMs: number, random: number): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(failures, 30));
  return Math.round(base * (1 - RECONNECT_JITTER * random));
}

export interface Timings {
  keepAliveMs: number;
  pingTimeoutMs: number;
  connectTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name}: ${v} is not a positive integer`);
  return v;
}

/** The options' timings with defaults applied; RangeError names a bad one. */
export function timings(o: MqttClientOptions): Timings {
  const t: Timings = {
    keepAliveMs: (o.keepAliveSeconds ?? DEFAULT_KEEP_ALIVE_SECONDS) * 1000,
    pingTimeoutMs: positiveInt("pingTimeoutMs", o.pingTimeoutMs, DEFAULT_PING_TIMEOUT_MS),
    connectTimeoutMs: positiveInt("connectTimeoutMs", o.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS),
    reconnectMinMs: positiveInt("reconnectMinMs", o.reconnectMinMs, RECONNECT_MIN_MS),
    reconnectMaxMs: positiveInt("reconnectMaxMs", o.reconnectMaxMs, RECONNECT_MAX_MS),
  };
  if (t.reconnectMaxMs < t.reconnectMinMs) throw new RangeError(`reconnectMaxMs: ${t.reconnectMaxMs} is below reconnectMinMs (${t.reconnectMinMs})`);
  return t;
}
