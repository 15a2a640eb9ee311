/*
 * The Node end of fleet devices' TCP sockets in real time: each socket a
 * device opens is a real `net.Socket` (one connection per device, as a
 * board has), so the device's own MQTT bytes cross a real connection to the
 * real gateway. Between the two sit the device's link conditions
 * (link-conditions.ts): latency, loss and partitions delay or hold the
 * bytes both ways; with none, bytes pass straight through.
 */
import { Socket } from "node:net";
import { TCP_DELIVERY_CHUNK, TCP_WRITE_WINDOW } from "../engine/tcp-bridge.js";
import { CONNECT_TIMEOUT_MS, LinkDirection, PARTITION_RESET_MS, type LinkConditions } from "./link-conditions.js";

export interface LinkEvents {
  writable(device: number, socket: number, count: number): void;
  data(device: number, socket: number, bytes: Uint8Array): void;
  error(device: number, socket: number, reason: string): void;
}

export interface SocketBridgeOptions {
  events: LinkEvents;
  conditions(device: number): LinkConditions;
  /** True while the devices' inputs pile up: sockets stop reading until resume(). */
  congested(): boolean;
  seed?: number;
}

export interface SocketBridgeStats {
  opened: number;
  open: number;
  bytesOut: number;
  bytesIn: number;
  errors: number;
  resets: number;
}

interface Link {
  device: number;
  socket: number;
  net: Socket;
  /** The window as the device last heard it, less what it wrote since. */
  believed: number;
  written: boolean;
  /** Bytes written by the device that the network model still holds back. */
  inTransit: number;
  up: LinkDirection;
  down: LinkDirection;
  held: Array<{ up: boolean; bytes: Uint8Array }>;
  resetTimer?: NodeJS.Timeout;
  timers: Set<NodeJS.Timeout>;
  closed: boolean;
}

const key = (device: number, socket: number) => device * 0x10000 + socket;

export class SocketBridge {
  readonly stats: SocketBridgeStats = { opened: 0, open: 0, bytesOut: 0, bytesIn: 0, errors: 0, resets: 0 };
  readonly #links = new Map<number, Link>();
  readonly #paused = new Set<Link>();
  readonly #options: SocketBridgeOptions;

  constructor(options: SocketBridgeOptions) {
    this.#options = options;
  }

  open(device: number, socket: number, address: string, port: number): void {
    const id = key(device, socket);
    this.#drop(this.#links.get(id));
    const seed = this.#options.seed ?? 1;
    const link: Link = {
      device, socket, net: new Socket(), believed: 0, written: false, inTransit: 0,
      up: new LinkDirection(seed, id * 2), down: new LinkDirection(seed, id * 2 + 1), held: [], timers: new Set(), closed: false,
    };
    this.#links.set(id, link);
    this.stats.opened++;
    this.stats.open++;
    const conditions = this.#options.conditions(device);
    if (conditions.partitioned) {
      // No SYN gets through: the connect fails as an unanswered one does.
      this.#later(link, CONNECT_TIMEOUT_MS, () => this.#fail(link, "connect ETIMEDOUT (network partition)"));
      return;
    }
    const net = link.net;
    net.setNoDelay(true);
    net.on("connect", () => this.#window(link, true));
    net.on("drain", () => this.#window(link, true));
    net.on("data", (data: Buffer) => this.#received(link, data));
    net.on("error", (error: NodeJS.ErrnoException) => {
      this.stats.errors++;
      this.#fail(link, `${error.code ?? "error"}: ${error.message}`);
    });
    net.on("close", () => this.#fail(link, "connection closed by peer"));
    net.connect({ host: address, port });
  }

  write(device: number, socket: number, bytes: Uint8Array): void {
    const link = this.#links.get(key(device, socket));
    if (!link || link.closed) return;
    link.believed -= bytes.byteLength;
    link.written = true;
    this.stats.bytesOut += bytes.byteLength;
    const copy = Buffer.from(bytes);
    const conditions = this.#options.conditions(device);
    if (!conditions.partitioned && link.held.length === 0 && isPerfect(conditions)) {
      link.net.write(copy);
      return;
    }
    link.inTransit += copy.byteLength;
    this.#send(link, true, copy, conditions);
  }

  close(device: number, socket: number): void {
    const link = this.#links.get(key(device, socket));
    if (!link) return;
    this.#forget(link);
    link.net.removeAllListeners("close");
    link.net.on("error", () => {});
    link.net.end();
    link.net.destroySoon();
  }

  /** Power off: every socket of the device vanishes, no FIN sent (the board is simply gone). */
  closeDevice(device: number): void {
    for (const link of [...this.#links.values()]) if (link.device === device) this.#drop(link);
  }

  closeAll(): void {
    for (const link of [...this.#links.values()]) this.#drop(link);
  }

  /** After a step: each socket written to hears its window again. */
  settleWindows(): void {
    for (const link of this.#links.values()) {
      if (!link.written) continue;
      link.written = false;
      this.#window(link, false);
    }
  }

  /** The devices' inputs were taken: paused sockets read again. */
  resume(): void {
    for (const link of this.#paused) if (!link.closed) link.net.resume();
    this.#paused.clear();
  }

  /** A partition of the device ended: what it held goes on now. */
  heal(device: number): void {
    const conditions = this.#options.conditions(device);
    for (const link of this.#links.values()) {
      if (link.device !== device || link.held.length === 0) continue;
      clearTimeout(link.resetTimer);
      link.resetTimer = undefined;
      const held = link.held.splice(0);
      for (const chunk of held) this.#send(link, chunk.up, chunk.bytes, conditions);
    }
  }

  #send(link: Link, up: boolean, bytes: Uint8Array, conditions: LinkConditions): void {
    if (conditions.partitioned) {
      link.held.push({ up, bytes });
      link.resetTimer ??= this.#later(link, PARTITION_RESET_MS, () => {
        this.stats.resets++;
        this.#fail(link, "connection timed out (network partition)");
      });
      return;
    }
    const delivery = (up ? link.up : link.down).deliver(Date.now(), conditions);
    if ("reset" in delivery) {
      this.stats.resets++;
      this.#fail(link, delivery.reset);
      return;
    }
    this.#later(link, delivery.at - Date.now(), () => {
      if (up) {
        link.inTransit -= bytes.byteLength;
        link.net.write(bytes);
      } else {
        this.stats.bytesIn += bytes.byteLength;
        this.#options.events.data(link.device, link.socket, bytes);
      }
    });
  }

  #received(link: Link, data: Buffer): void {
    if (link.closed) return;
    if (this.#options.congested()) {
      link.net.pause();
      this.#paused.add(link);
    }
    const conditions = this.#options.conditions(link.device);
    for (let at = 0; at < data.byteLength; at += TCP_DELIVERY_CHUNK) {
      const chunk = data.subarray(at, at + TCP_DELIVERY_CHUNK);
      if (!conditions.partitioned && link.held.length === 0 && isPerfect(conditions)) {
        this.stats.bytesIn += chunk.byteLength;
        this.#options.events.data(link.device, link.socket, chunk);
      } else this.#send(link, false, Uint8Array.from(chunk), conditions);
    }
  }

  /** Tells the device its window when it grew past what it believes (or always, on connect and drain). */
  #window(link: Link, always: boolean): void {
    if (link.closed) return;
    const window = Math.max(0, TCP_WRITE_WINDOW - link.net.writableLength - link.inTransit);
    if (!always && window <= link.believed) return;
    link.believed = window;
    this.#options.events.writable(link.device, link.socket, window);
  }

  #fail(link: Link, reason: string): void {
    if (link.closed) return;
    this.#drop(link);
    this.#options.events.error(link.device, link.socket, reason);
  }

  #later(link: Link, ms: number, run: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      link.timers.delete(timer);
      if (!link.closed) run();
    }, Math.max(0, ms));
    link.timers.add(timer);
    return timer;
  }

  #forget(link: Link): void {
    if (link.closed) return;
    link.closed = true;
    this.stats.open--;
    for (const timer of link.timers) clearTimeout(timer);
    link.timers.clear();
    this.#paused.delete(link);
    if (this.#links.get(key(link.device, link.socket)) === link) this.#links.delete(key(link.device, link.socket));
  }

  #drop(link: Link | undefined): void {
    if (!link) return;
    this.#forget(link);
    link.net.removeAllListeners();
    link.net.on("error", () => {});
    link.net.destroy();
  }
}

function isPerfect(conditions: LinkConditions): boolean {
  return conditions.latencyMs <= 0 && conditions.jitterMs <= 0 && conditions.loss <= 0;
}
