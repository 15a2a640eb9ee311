/*
 * ECMA-419 TCP socket (embedded:io/socket/tcp) over node:net, for running the
 * device's MQTT client against real sockets in tests. Loopback only.
 *
 * Node buffers writes without limit; a board's lwIP does not. To exercise the
 * client's flow control as a board would, this adapter grants a fixed write
 * window (WRITE_WINDOW_BYTES), throws when a write exceeds what onWritable last
 * allowed, and gives the space back only once Node has handed the bytes to the
 * kernel. Received bytes wait here until read(); onReadable reports how many.
 */
import * as net from "node:net";
import type { TcpOptions, TcpSocket } from "../../modules/mqtt/client.js";

/** About one lwIP TCP send buffer (TCP_SND_BUF) on an ESP32. */
export const WRITE_WINDOW_BYTES = 5744;

export class NodeTcp implements TcpSocket {
  /** Every instance created, for tests that count connection attempts. */
  static readonly opened: NodeTcp[] = [];
  readonly #socket: net.Socket;
  readonly #options: TcpOptions;
  readonly #received: Buffer[] = [];
  #available = 0;
  #writable = WRITE_WINDOW_BYTES;
  #writablePending = false;
  #closed = false;
  readonly createdAt = Date.now();
  /** Bytes written, for tests that inspect the wire. */
  readonly written: Buffer[] = [];

  constructor(options: TcpOptions) {
    if (options.address !== "127.0.0.1") throw new RangeError(`address: tests connect to 127.0.0.1 only, not ${options.address}`);
    if (options.format !== undefined && options.format !== "buffer") throw new RangeError(`format: only "buffer" is supported`);
    this.#options = options;
    NodeTcp.opened.push(this);
    this.#socket = net.connect({ host: options.address, port: options.port, noDelay: options.nodelay ?? false });
    this.#socket.on("connect", () => this.#announceWritable());
    this.#socket.on("data", (data: Buffer) => {
      if (this.#closed) return;
      this.#received.push(data);
      this.#available += data.length;
      this.#options.onReadable.call(this, this.#available);
    });
    this.#socket.on("error", (e) => this.#fail(e.message));
    this.#socket.on("close", () => this.#fail("connection closed by peer"));
  }

  read(count?: number): ArrayBuffer | undefined {
    if (this.#available === 0) return undefined;
    const n = Math.min(count ?? this.#available, this.#available);
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const head = this.#received[0];
      const take = Math.min(head.length, n - at);
      out.set(head.subarray(0, take), at);
      at += take;
      if (take === head.length) this.#received.shift();
      else this.#received[0] = head.subarray(take);
    }
    this.#available -= n;
    return out.buffer;
  }

  write(buffer: Uint8Array): void {
    if (this.#closed) throw new Error("write: socket is closed");
    if (buffer.byteLength > this.#writable) throw new RangeError(`write: ${buffer.byteLength} bytes exceed the ${this.#writable} onWritable allowed`);
    // Copy: the caller reuses its buffer as soon as write() returns, as on a board.
    const copy = Buffer.from(buffer);
    this.written.push(copy);
    this.#writable -= copy.length;
    this.#socket.write(copy, () => {
      this.#writable += copy.length;
      this.#announceWritable();
    });
  }

  close(): void {
    this.#closed = true;
    this.#socket.destroy();
  }

  /** Coalesces write completions into one onWritable, as a board reports space freed. */
  #announceWritable(): void {
    if (this.#writablePending || this.#closed) return;
    this.#writablePending = true;
    setImmediate(() => {
      this.#writablePending = false;
      if (!this.#closed) this.#options.onWritable.call(this, this.#writable);
    });
  }

  #fail(message: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.destroy();
    this.#options.onError.call(this, message);
  }
}
