/*
 * The device listener's limits, each with its default and the reason for
 * it, and the connection guard that enforces the connection caps. Every
 * limit is a config key (config/schema.ts, `mqtt.*`) and every refusal is
 * counted by reason (listener-stats.ts). Pure.
 */

export interface ListenerLimits {
  /** Largest control packet read, header included; larger ones close the connection before their body is buffered. */
  maxPacketBytes: number;
  /** A connection must send CONNECT within this long of being accepted (after the handshake, for TLS). */
  connectTimeoutMs: number;
  /** Connections held at once, in all. */
  maxConnections: number;
  /** Connections held at once from one source address. */
  maxConnectionsPerAddress: number;
  /** Connections not yet authenticated (no CONNACK 0 yet), in all. */
  maxUnauthenticated: number;
  /** Of those, from one source address. */
  maxUnauthenticatedPerAddress: number;
  /** Publishes one connection may have awaiting their commit; past it the listener reads no more from it until some are answered. */
  maxInFlight: number;
}

/**
 * 1 KiB: a record is at most MAX_RECORD_BYTES (255), its topic at most 81
 * bytes (`xsedge/v1/` + a 64-character id + `/report`), a CONNECT at most
 * about 270 (64-character client id and username, 128-character secret):
 * three times the largest packet a device of ours sends, and 1,000 such
 * buffers are 1 MB.
 */
export const DEFAULT_MAX_PACKET_BYTES = 1024;
/** 5 s: a device sends CONNECT right after its TCP (or TLS) handshake; a socket silent for longer is not a device at work. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** 2,000: several times a Pi gateway's fleet, each connection costing some 20 KB of memory (about 40 MB in all). */
export const DEFAULT_MAX_CONNECTIONS = 2_000;
/** 256: devices are boards with addresses of their own; one host (a NAT, a simulator) beyond this sets the key. */
export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 256;
/** 256: an honest CONNECT takes milliseconds, so this many at once is a fleet reconnecting together, not a wait. */
export const DEFAULT_MAX_UNAUTHENTICATED = 256;
/** 64: a simulator on one host starts its devices in groups; half-open sockets from one host beyond this are refused at once. */
export const DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS = 64;
/** 256: thirty times a device's own window (MAX_IN_FLIGHT, 8) and within a group commit (1,000); at most 256 KiB per connection. */
export const DEFAULT_MAX_IN_FLIGHT = 256;

export const DEFAULT_LISTENER_LIMITS: Readonly<ListenerLimits> = Object.freeze({
  maxPacketBytes: DEFAULT_MAX_PACKET_BYTES,
  connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS,
  maxConnections: DEFAULT_MAX_CONNECTIONS,
  maxConnectionsPerAddress: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
  maxUnauthenticated: DEFAULT_MAX_UNAUTHENTICATED,
  maxUnauthenticatedPerAddress: DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS,
  maxInFlight: DEFAULT_MAX_IN_FLIGHT,
});

/** A CONNECT (client id, username, password and their lengths) takes at least this much; a smaller limit could refuse every device. */
export const MIN_MAX_PACKET_BYTES = 128;
/** 256 MiB, the most MQTT 3.1.1 can express. */
export const MAX_MAX_PACKET_BYTES = 268_435_455 + 5;

/** The given limits over the defaults, checked; throws a RangeError naming the first bad one. */
export function listenerLimits(given: Partial<ListenerLimits> = {}): ListenerLimits {
  const limits: ListenerLimits = { ...DEFAULT_LISTENER_LIMITS };
  for (const [key, value] of Object.entries(given) as [keyof ListenerLimits, number | undefined][]) if (value !== undefined) limits[key] = value;
  const integer = (key: keyof ListenerLimits, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const value = limits[key];
    if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`mqtt ${key} must be an integer from ${min} to ${max}, got ${value}`);
  };
  integer("maxPacketBytes", MIN_MAX_PACKET_BYTES, MAX_MAX_PACKET_BYTES);
  integer("connectTimeoutMs", 1);
  integer("maxConnections", 1);
  integer("maxConnectionsPerAddress", 1);
  integer("maxUnauthenticated", 1);
  integer("maxUnauthenticatedPerAddress", 1);
  integer("maxInFlight", 1);
  return limits;
}

/**
 * Caps for a gateway whose devices all connect from one address, a
 * simulator's fleet on the same machine (`xsedge up`, the soak, the bench):
 * the per-address caps exist to stop one source hogging the listener,
 * which is here what the fleet is. Each cap is at least its default.
 */
export function oneAddressFleetLimits(devices: number): Pick<ListenerLimits, "maxConnections" | "maxConnectionsPerAddress" | "maxUnauthenticated" | "maxUnauthenticatedPerAddress"> {
  // Room for the fleet to reconnect at once after a gateway restart, plus a few other clients.
  const room = devices + 64;
  return {
    maxConnections: Math.max(DEFAULT_MAX_CONNECTIONS, room),
    maxConnectionsPerAddress: Math.max(DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, room),
    maxUnauthenticated: Math.max(DEFAULT_MAX_UNAUTHENTICATED, room),
    maxUnauthenticatedPerAddress: Math.max(DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS, room),
  };
}

/** Why a connection was closed at accept, before it could send a byte. */
export type AdmissionRefusal = "too-many-connections" | "too-many-from-address" | "too-many-unauthenticated" | "too-many-unauthenticated-from-address";

interface AddressCount {
  all: number;
  unauthenticated: number;
}

/**
 * Counts connections in all and per source address, authenticated or not,
 * and decides whether a new one may be held. A connection is "admitted"
 * unauthenticated, may become "authenticated" once, and is "released" when
 * it closes. The per-address map holds only addresses with a connection
 * open, so it is bounded by maxConnections.
 */
export class ConnectionGuard {
  readonly #limits: ListenerLimits;
  readonly #byAddress = new Map<string, AddressCount>();
  #all = 0;
  #unauthenticated = 0;

  constructor(limits: ListenerLimits) {
    this.#limits = limits;
  }

  /** Admits a new, unauthenticated connection from `address`, or says why not. */
  admit(address: string): AdmissionRefusal | null {
    const limits = this.#limits;
    const count = this.#byAddress.get(address);
    if (this.#all >= limits.maxConnections) return "too-many-connections";
    if ((count?.all ?? 0) >= limits.maxConnectionsPerAddress) return "too-many-from-address";
    if (this.#unauthenticated >= limits.maxUnauthenticated) return "too-many-unauthenticated";
    if ((count?.unauthenticated ?? 0) >= limits.maxUnauthenticatedPerAddress) return "too-many-unauthenticated-from-address";
    if (count === undefined) this.#byAddress.set(address, { all: 1, unauthenticated: 1 });
    else {
      count.all++;
      count.unauthenticated++;
    }
    this.#all++;
    this.#unauthenticated++;
    return null;
  }

  /** An admitted connection logged in. */
  authenticated(address: string): void {
    const count = this.#byAddress.get(address);
    if (count === undefined || count.unauthenticated === 0) throw new Error(`ConnectionGuard: no unauthenticated connection from ${address}`);
    count.unauthenticated--;
    this.#unauthenticated--;
  }

  /** An admitted connection closed; `wasAuthenticated` says which count it was in. */
  released(address: string, wasAuthenticated: boolean): void {
    const count = this.#byAddress.get(address);
    if (count === undefined) throw new Error(`ConnectionGuard: no connection from ${address}`);
    count.all--;
    this.#all--;
    if (!wasAuthenticated) {
      count.unauthenticated--;
      this.#unauthenticated--;
    }
    if (count.all === 0) this.#byAddress.delete(address);
  }

  get connections(): number {
    return this.#all;
  }

  get unauthenticated(): number {
    return this.#unauthenticated;
  }

  /** Addresses with a connection open. */
  get addresses(): number {
    return this.#byAddress.size;
  }
}
