/*
 * The Node half of a simulated device's TCP sockets: each socket the device
 * opens in XS is a real `net.Socket` here, so its bytes cross a real loopback
 * connection to the real broker.
 */
import { Socket } from "node:net";

export interface TcpBridgeEvents {
  writable(id: number, count: number): void;
  data(id: number, bytes: Uint8Array): void;
  error(id: number, reason: string): void;
}

/** Bytes the device may have queued in one socket before it must wait for onWritable. */
export const TCP_WRITE_WINDOW = 16 * 1024;
/** Received bytes are handed to XS in pieces no larger than this. */
export const TCP_DELIVERY_CHUNK = 16 * 1024;

export interface TcpBridgeStats {
  opened: number;
  bytesOut: number;
  bytesIn: number;
  errors: number;
}

export class TcpBridge {
  private readonly sockets = new Map<number, Socket>();
  private readonly events: TcpBridgeEvents;
  readonly stats: TcpBridgeStats = { opened: 0, bytesOut: 0, bytesIn: 0, errors: 0 };

  constructor(events: TcpBridgeEvents) {
    this.events = events;
  }

  /** Starts connecting; the device learns the outcome through onWritable or onError. */
  open(id: number, address: string, port: number): boolean {
    if (this.sockets.has(id) || !address) return false;
    const socket = new Socket();
    socket.setNoDelay(true);
    this.sockets.set(id, socket);
    this.stats.opened++;
    let reported = false;
    const fail = (reason: string) => {
      if (reported) return;
      reported = true;
      this.sockets.delete(id);
      socket.destroy();
      this.events.error(id, reason);
    };
    socket.on("connect", () => this.events.writable(id, this.window(socket)));
    socket.on("drain", () => this.events.writable(id, this.window(socket)));
    socket.on("data", (data: Buffer) => {
      this.stats.bytesIn += data.byteLength;
      for (let at = 0; at < data.byteLength; at += TCP_DELIVERY_CHUNK) this.events.data(id, data.subarray(at, at + TCP_DELIVERY_CHUNK));
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      this.stats.errors++;
      fail(`${error.code ?? "error"}: ${error.message}`);
    });
    socket.on("close", () => fail("connection closed by peer"));
    socket.connect({ host: address, port });
    return true;
  }

  /** Queues bytes; returns how many more the device may write now, or undefined for an unknown socket. */
  write(id: number, bytes: Uint8Array): number | undefined {
    const socket = this.sockets.get(id);
    if (!socket) return undefined;
    this.stats.bytesOut += bytes.byteLength;
    socket.write(Buffer.from(bytes));
    return this.window(socket);
  }

  close(id: number): boolean {
    const socket = this.sockets.get(id);
    if (!socket) return false;
    this.sockets.delete(id);
    socket.removeAllListeners("close");
    socket.end();
    socket.destroySoon();
    return true;
  }

  closeAll(): void {
    for (const id of [...this.sockets.keys()]) {
      const socket = this.sockets.get(id)!;
      this.sockets.delete(id);
      socket.removeAllListeners();
      socket.on("error", () => {});
      socket.destroy();
    }
  }

  get openCount(): number {
    return this.sockets.size;
  }

  private window(socket: Socket): number {
    return Math.max(0, TCP_WRITE_WINDOW - socket.writableLength);
  }
}
