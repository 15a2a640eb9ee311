/*
 * The network in virtual time: devices' TCP connections to simulated
 * servers (the gateway model) on the virtual clock, under the same link
 * conditions as real sockets get (link-conditions.ts). Every byte is
 * delivered as an event at the time it arrives; a server sees a connection
 * as a VirtualLink to send on and answers with a VirtualSession to receive
 * on. A device that loses power sends nothing more, not even a FIN: its
 * server finds out as a real one would (keep-alive, or the device's next
 * connection taking over).
 */
import { Input } from "../engine/fleet-worker.js";
import { TCP_WRITE_WINDOW } from "../engine/tcp-bridge.js";
import type { FleetEngine } from "../fleet/fleet-engine.js";
import type { FleetNetwork } from "../fleet/fleet-driver.js";
import type { VirtualDriver } from "../fleet/virtual-driver.js";
import { CONNECT_TIMEOUT_MS, DELAYED_ACK_MS, LinkDirection, PARTITION_RESET_MS, type LinkConditions } from "./link-conditions.js";

/** A server's end of one connection. */
export interface VirtualLink {
  /** Who is on the other end: the device's sensor id. */
  readonly peer: string;
  send(bytes: Uint8Array): void;
  /** Closes the connection (the device sees the peer close it). */
  close(): void;
}

export interface VirtualSession {
  data(bytes: Uint8Array): void;
  /** The device closed the connection, or it was reset. */
  closed(reason: string): void;
}

export interface VirtualEndpoint {
  /** A device connected; undefined refuses it (nothing listening: the server is down). */
  accept(link: VirtualLink): VirtualSession | undefined;
}

interface Connection {
  device: number;
  socket: number;
  endpoint: VirtualEndpoint;
  session: VirtualSession | undefined;
  up: LinkDirection;
  down: LinkDirection;
  /** The device's end exists (not closed, not powered off). */
  deviceOpen: boolean;
  serverOpen: boolean;
  /** Bytes the device wrote that have not reached the server yet. */
  inFlight: number;
  held: Array<{ up: boolean; bytes: Uint8Array }>;
  resetAt: number | undefined;
  /** The server has received data it has not acknowledged yet (the ACK rides on its next segment). */
  ackDue: boolean;
}

export interface VirtualNetworkStats {
  connects: number;
  refused: number;
  resets: number;
  bytesUp: number;
  bytesDown: number;
}

const key = (device: number, socket: number) => device * 0x10000 + socket;

export class VirtualNetwork implements FleetNetwork {
  readonly stats: VirtualNetworkStats = { connects: 0, refused: 0, resets: 0, bytesUp: 0, bytesDown: 0 };
  readonly #driver: VirtualDriver;
  readonly #seed: number;
  readonly #endpoints = new Map<string, VirtualEndpoint>();
  readonly #connections = new Map<number, Connection>();
  readonly #perDevice = new Map<number, LinkConditions>();
  #base: LinkConditions;
  #engine: FleetEngine | undefined;

  constructor(driver: VirtualDriver, conditions: LinkConditions, seed = 1) {
    this.#driver = driver;
    this.#base = conditions;
    this.#seed = seed;
  }

  bind(engine: FleetEngine): void {
    this.#engine = engine;
  }

  listen(address: string, port: number, endpoint: VirtualEndpoint): void {
    this.#endpoints.set(`${address}:${port}`, endpoint);
  }

  setConditions(conditions: LinkConditions): void {
    this.#base = conditions;
  }

  setDeviceConditions(device: number, conditions: LinkConditions | undefined): void {
    if (conditions) this.#perDevice.set(device, conditions);
    else this.#perDevice.delete(device);
  }

  conditionsOf(device: number): LinkConditions {
    const conditions = this.#perDevice.get(device) ?? this.#base;
    return this.#engine?.devices[device]?.networkDown ? { ...conditions, partitioned: true } : conditions;
  }

  conditionsChanged(device: number): void {
    const conditions = this.conditionsOf(device);
    if (conditions.partitioned) return;
    for (const connection of this.#connections.values()) {
      if (connection.device !== device || connection.held.length === 0) continue;
      connection.resetAt = undefined;
      for (const chunk of connection.held.splice(0)) this.#carry(connection, chunk.up, chunk.bytes);
    }
  }

  open(device: number, socket: number, address: string, port: number, at: number): void {
    this.#connections.delete(key(device, socket));
    this.stats.connects++;
    const conditions = this.#effective(device);
    if (conditions.partitioned) {
      this.#toDevice(device, at + CONNECT_TIMEOUT_MS, Input.TCP_ERROR, socket, "connect ETIMEDOUT (network partition)");
      return;
    }
    const endpoint = this.#endpoints.get(`${address}:${port}`);
    const seed = this.#seed;
    const id = key(device, socket);
    const connection: Connection = {
      device, socket, endpoint: endpoint!, session: undefined, up: new LinkDirection(seed, id * 2), down: new LinkDirection(seed, id * 2 + 1),
      deviceOpen: true, serverOpen: false, inFlight: 0, held: [], resetAt: undefined, ackDue: false,
    };
    this.#connections.set(id, connection);
    const syn = connection.up.deliver(at, conditions);
    if ("reset" in syn) return this.#reset(connection, at, syn.reset);
    this.#driver.schedule(syn.at, () => {
      if (!connection.deviceOpen) return;
      const session = endpoint?.accept(this.#link(connection));
      if (!session) {
        this.stats.refused++;
        connection.deviceOpen = false;
        this.#connections.delete(id);
        this.#toDevice(device, this.#arrival(connection), Input.TCP_ERROR, socket, `ECONNREFUSED: connect to ${address}:${port} refused`);
        return;
      }
      connection.session = session;
      connection.serverOpen = true;
      this.#toDevice(device, this.#arrival(connection), Input.TCP_WRITABLE, socket, TCP_WRITE_WINDOW);
    });
  }

  write(device: number, socket: number, bytes: Uint8Array, at: number): void {
    const connection = this.#connections.get(key(device, socket));
    if (!connection?.deviceOpen) return;
    connection.inFlight += bytes.byteLength;
    this.stats.bytesUp += bytes.byteLength;
    // Sent when the device wrote it, not when the window it wrote it in ended.
    this.#carry(connection, true, bytes.slice(), at);
  }

  close(device: number, socket: number, at: number): void {
    const connection = this.#connections.get(key(device, socket));
    if (!connection) return;
    connection.deviceOpen = false;
    this.#connections.delete(key(device, socket));
    if (!connection.serverOpen) return;
    this.#driver.schedule(this.#arrival(connection, at), () => this.#serverGone(connection, "closed by the device"));
  }

  closeDevice(device: number): void {
    for (const [id, connection] of this.#connections) {
      if (connection.device !== device) continue;
      connection.deviceOpen = false;
      this.#connections.delete(id);
    }
  }

  /** The endpoint's process went away (a kill or a restart): each of its connections is reset, the devices told. */
  resetEndpoint(endpoint: VirtualEndpoint): void {
    const now = this.#driver.now();
    for (const connection of [...this.#connections.values()]) {
      if (connection.endpoint !== endpoint || !connection.serverOpen) continue;
      connection.serverOpen = false;
      connection.session = undefined;
      this.stats.resets++;
      this.#deviceGone(connection, this.#arrival(connection, now), "connection reset by peer");
    }
  }

  closeAll(): void {
    this.#connections.clear();
  }

  afterStep(): void {}

  #link(connection: Connection): VirtualLink {
    const peer = this.#engine?.devices[connection.device]?.sensorId ?? `device ${connection.device}`;
    return {
      peer,
      send: (bytes) => {
        if (!connection.serverOpen) return;
        this.stats.bytesDown += bytes.byteLength;
        this.#carry(connection, false, bytes.slice());
      },
      close: () => {
        if (!connection.serverOpen) return;
        connection.serverOpen = false;
        connection.session = undefined;
        this.#deviceGone(connection, this.#arrival(connection), "connection closed by peer");
      },
    };
  }

  /** Carries a chunk one way, in order, under the device's conditions, sent at `sentAt` (now by default). */
  #carry(connection: Connection, up: boolean, bytes: Uint8Array, sentAt = this.#driver.now()): void {
    const now = sentAt;
    const conditions = this.#effective(connection.device);
    if (conditions.partitioned || connection.held.length > 0) {
      connection.held.push({ up, bytes });
      if (connection.resetAt === undefined) {
        const resetAt = now + PARTITION_RESET_MS;
        connection.resetAt = resetAt;
        this.#driver.schedule(resetAt, () => {
          if (connection.resetAt === resetAt && connection.held.length > 0) this.#reset(connection, resetAt, "connection timed out (network partition)");
        });
      }
      return;
    }
    const delivery = (up ? connection.up : connection.down).deliver(now, conditions);
    if ("reset" in delivery) return this.#reset(connection, now, delivery.reset);
    // The server's acknowledgement of what it received goes with this segment.
    const acknowledges = !up && connection.ackDue;
    if (acknowledges) connection.ackDue = false;
    this.#driver.schedule(delivery.at, () => {
      if (up) {
        connection.inFlight -= bytes.byteLength;
        if (!connection.serverOpen) return;
        this.#owesAck(connection);
        connection.session!.data(bytes);
      } else if (connection.deviceOpen) {
        // The ACK opens the device's window again.
        if (acknowledges) this.#toDevice(connection.device, this.#driver.now(), Input.TCP_WRITABLE, connection.socket, TCP_WRITE_WINDOW - connection.inFlight);
        this.#toDevice(connection.device, this.#driver.now(), Input.TCP_DATA, connection.socket, bytes);
      }
    });
  }

  /** The server owes an ACK: it goes with its next segment, or alone after the delayed-ACK time. */
  #owesAck(connection: Connection): void {
    if (connection.ackDue) return;
    connection.ackDue = true;
    this.#driver.schedule(this.#driver.now() + DELAYED_ACK_MS, () => {
      if (!connection.ackDue || !connection.serverOpen) return;
      connection.ackDue = false;
      if (connection.deviceOpen) this.#toDevice(connection.device, this.#arrival(connection), Input.TCP_WRITABLE, connection.socket, TCP_WRITE_WINDOW - connection.inFlight);
    });
  }

  /** When something small sent at `at` arrives (ignoring loss): acknowledgements, closes, resets. */
  #arrival(connection: Connection, at = this.#driver.now()): number {
    return at + this.#effective(connection.device).latencyMs;
  }

  /** The device's conditions, with no latency below the driver's lookahead: nothing may arrive inside the window it was sent in. */
  #effective(device: number): LinkConditions {
    const conditions = this.conditionsOf(device);
    return conditions.latencyMs >= this.#driver.lookaheadMs ? conditions : { ...conditions, latencyMs: this.#driver.lookaheadMs };
  }

  #reset(connection: Connection, at: number, reason: string): void {
    this.stats.resets++;
    const wasServerOpen = connection.serverOpen;
    connection.serverOpen = false;
    connection.held.length = 0;
    if (wasServerOpen) this.#driver.schedule(at, () => connection.session && this.#serverGone(connection, reason));
    this.#deviceGone(connection, this.#arrival(connection, at), reason);
  }

  #serverGone(connection: Connection, reason: string): void {
    const session = connection.session;
    connection.session = undefined;
    connection.serverOpen = false;
    session?.closed(reason);
  }

  #deviceGone(connection: Connection, at: number, reason: string): void {
    if (!connection.deviceOpen) return;
    connection.deviceOpen = false;
    this.#connections.delete(key(connection.device, connection.socket));
    this.#toDevice(connection.device, at, Input.TCP_ERROR, connection.socket, reason);
  }

  /** Schedules an input for a device at `at`: socket bytes, a window, an error. */
  #toDevice(device: number, at: number, kind: number, socket: number, payload: number | string | Uint8Array): void {
    const engine = this.#engine;
    if (!engine) return;
    this.#driver.schedule(at, () => {
      const d = engine.devices[device];
      if (d.state === "off" || d.state === "halted") return;
      const writer = engine.workers[d.worker].input(kind, device, this.#driver.now()).u16(socket);
      if (typeof payload === "number") writer.u32(payload);
      else if (typeof payload === "string") {
        d.counters.socketErrors++;
        writer.text(payload);
      } else {
        d.counters.bytesIn += payload.byteLength;
        writer.sized(payload);
      }
      engine.driver.wake(d.worker);
    });
  }
}
