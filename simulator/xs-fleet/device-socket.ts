/*
 * ECMA-419 `embedded:io/socket/tcp` for one simulated device of a fleet. The
 * host opens a real socket (or a simulated link) for each; what the device
 * writes is an output record of the step, what arrives is an input record
 * of a later one. The write window is the host's: it says how many bytes the
 * socket may take (onWritable), and the device's writes use it up.
 */
import { Output } from "./fleet-protocol.js";
import { flushOutputIfFull, output } from "./host-link.js";
import { checkPowered, type BoardContext } from "./board-context.js";
import { ReceiveQueue } from "../xs-host/receive-queue.js";

type Buffer = ArrayBuffer | ArrayBufferView;

export interface TCPOptions {
  address?: string;
  host?: string;
  port?: number;
  nodelay?: boolean;
  format?: "buffer" | "number";
  onReadable?: (this: FleetSocket, count: number) => void;
  onWritable?: (this: FleetSocket, count: number) => void;
  onError?: (this: FleetSocket, reason?: string) => void;
}

/** Sockets one device may have open at once: an MQTT device needs one. */
export const MAX_SOCKETS = 8;
/** Received bytes a device may leave unread before the socket fails, as a board's receive buffer would overflow. */
export const MAX_UNREAD_BYTES = 64 * 1024;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** The device's open sockets, by the id its records carry. */
export class DeviceSockets {
  readonly open = new Map<number, FleetSocket>();
  #nextId = 1;

  take(): number {
    for (let tries = 0; tries < 0xffff; tries++) {
      const id = this.#nextId;
      this.#nextId = id === 0xffff ? 1 : id + 1;
      if (!this.open.has(id)) return id;
    }
    throw new Error("TCP: no socket id free");
  }

  /** Power is gone: sockets vanish without a callback (the host drops its ends). */
  dropAll(): void {
    this.open.clear();
  }
}

export class FleetSocket {
  readonly #board: BoardContext;
  readonly #sockets: DeviceSockets;
  readonly #id: number;
  readonly #options: TCPOptions;
  readonly #received = new ReceiveQueue();
  #writable = 0;
  #open = true;
  readonly remoteAddress: string;
  readonly remotePort: number;

  constructor(board: BoardContext, sockets: DeviceSockets, options: TCPOptions) {
    checkPowered(board);
    const address = options.address ?? options.host;
    if (typeof address !== "string" || !IPV4.test(address)) throw new RangeError(`TCP: address must be an IPv4 address, got ${String(address)}`);
    if (!Number.isInteger(options.port) || options.port! < 1 || options.port! > 65535) throw new RangeError(`TCP: invalid port ${String(options.port)}`);
    if (options.format !== undefined && options.format !== "buffer") throw new RangeError(`TCP: unsupported format ${options.format}`);
    if (sockets.open.size >= MAX_SOCKETS) throw new Error(`TCP: too many sockets (limit ${MAX_SOCKETS})`);
    this.#board = board;
    this.#sockets = sockets;
    this.#options = options;
    this.#id = sockets.take();
    this.remoteAddress = address;
    this.remotePort = options.port!;
    sockets.open.set(this.#id, this);
    output.record(Output.TCP_OPEN, board.index, board.clock.now()).u16(this.#id).u16(this.remotePort).text(address);
  }

  get format(): "buffer" {
    return "buffer";
  }

  read(count?: number): ArrayBuffer | undefined {
    return this.#received.read(count);
  }

  write(value: Buffer | number): void {
    checkPowered(this.#board);
    if (!this.#open) throw new Error("TCP: socket closed");
    const bytes = typeof value === "number" ? Uint8Array.of(value)
      : value instanceof ArrayBuffer ? new Uint8Array(value) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    if (bytes.byteLength > this.#writable) throw new Error(`TCP: write of ${bytes.byteLength} bytes exceeds writable ${this.#writable}`);
    this.#writable -= bytes.byteLength;
    output.record(Output.TCP_WRITE, this.#board.index, this.#board.clock.now()).u16(this.#id).sized(bytes);
    flushOutputIfFull();
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#sockets.open.delete(this.#id);
    if (!this.#board.halted) output.record(Output.TCP_CLOSE, this.#board.index, this.#board.clock.now()).u16(this.#id);
  }

  /** @internal */ _writable(count: number): void {
    if (!this.#open) return;
    this.#writable = count;
    this.#call(this.#options.onWritable, count);
  }

  /** @internal */ _data(bytes: Uint8Array): void {
    if (!this.#open) return;
    if (this.#received.pending + bytes.byteLength > MAX_UNREAD_BYTES) {
      this._error(`receive buffer overflow: ${this.#received.pending} bytes unread`);
      output.record(Output.TCP_CLOSE, this.#board.index, this.#board.clock.now()).u16(this.#id);
      return;
    }
    // Copied: the step's input buffer is not the device's.
    this.#received.push(bytes);
    this.#call(this.#options.onReadable, this.#received.pending);
  }

  /** @internal */ _error(reason: string): void {
    if (!this.#open) return;
    this.#open = false;
    this.#sockets.open.delete(this.#id);
    this.#call(this.#options.onError, reason);
  }

  #call(callback: ((this: FleetSocket, value: any) => void) | undefined, value: unknown): void {
    if (!callback) return;
    try {
      callback.call(this, value);
    } catch (error) {
      this.#board.report(error);
    }
  }
}
