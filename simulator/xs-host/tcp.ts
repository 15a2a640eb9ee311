/*
 * ECMA-419 `embedded:io/socket/tcp` for the simulator, bridged to a real
 * Node socket by the host: the device's own bytes (its MQTT packets) reach
 * the real broker unchanged. Received bytes wait here until the app reads.
 */
import { Request, Status, utf8 } from "./protocol.js";
import { frame, reportUncaught, request } from "./bridge.js";
import { ReceiveQueue } from "./receive-queue.js";

type Buffer = ArrayBuffer | ArrayBufferView;

export interface TCPOptions {
  address?: string;
  host?: string;
  port?: number;
  nodelay?: boolean;
  format?: "buffer" | "number";
  onReadable?: (this: TCP, count: number) => void;
  onWritable?: (this: TCP, count: number) => void;
  onError?: (this: TCP, reason?: string) => void;
}

const sockets = new Map<number, TCP>();
let nextId = 1;

export default class TCP {
  readonly #id: number;
  readonly #options: TCPOptions;
  readonly #received = new ReceiveQueue();
  #writable = 0;
  #open = true;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;

  constructor(options: TCPOptions) {
    const address = options.address ?? options.host;
    if (typeof address !== "string" || address.length === 0) throw new RangeError("TCP: address required");
    if (!Number.isInteger(options.port) || options.port! < 1 || options.port! > 65535) throw new RangeError(`TCP: invalid port ${String(options.port)}`);
    if (options.format !== undefined && options.format !== "buffer") throw new RangeError(`TCP: unsupported format ${options.format}`);
    this.#options = options;
    this.#id = nextId;
    nextId = nextId === 0xffff ? 1 : nextId + 1;
    this.remoteAddress = address;
    this.remotePort = options.port;
    sockets.set(this.#id, this);
    const { status } = request(frame(Request.TCP_OPEN).u16(this.#id).u16(options.port!).tail(utf8(address)), [Status.OK, Status.REFUSED]);
    if (status !== Status.OK) {
      sockets.delete(this.#id);
      throw new Error(`TCP: cannot connect to ${address}:${options.port}`);
    }
  }

  get format(): "buffer" {
    return "buffer";
  }

  read(count?: number): ArrayBuffer | undefined {
    return this.#received.read(count);
  }

  write(value: Buffer | number): void {
    if (!this.#open) throw new Error("TCP: socket closed");
    const bytes = typeof value === "number" ? new Uint8Array([value])
      : value instanceof ArrayBuffer ? new Uint8Array(value) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    if (bytes.byteLength > this.#writable) throw new Error(`TCP: write of ${bytes.byteLength} bytes exceeds writable ${this.#writable}`);
    const { reply } = request(frame(Request.TCP_WRITE).u16(this.#id).tail(bytes));
    this.#writable = reply.u32();
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    sockets.delete(this.#id);
    request(frame(Request.TCP_CLOSE).u16(this.#id), [Status.OK, Status.REFUSED]);
  }

  /** @internal */ _writable(count: number): void {
    this.#writable = count;
    this.#call(this.#options.onWritable, count);
  }

  /** @internal */ _data(bytes: Uint8Array): void {
    // Copied: the frame's buffer is reused by the bridge.
    this.#received.push(bytes);
    this.#call(this.#options.onReadable, this.#received.pending);
  }

  /** @internal */ _error(reason: string): void {
    if (!this.#open) return;
    this.#open = false;
    sockets.delete(this.#id);
    this.#call(this.#options.onError, reason);
  }

  #call(callback: ((this: TCP, value: any) => void) | undefined, value: unknown): void {
    if (!callback) return;
    try {
      callback.call(this, value);
    } catch (error) {
      reportUncaught(error);
    }
  }
}

export function socketById(id: number): TCP | undefined {
  return sockets.get(id);
}
