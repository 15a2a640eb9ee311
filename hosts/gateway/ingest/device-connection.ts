/*
 * One device connection's socket, as the listener and its session see it:
 * bytes in through the frame reader to whichever sink reads them (the
 * CONNECT handler first, then the session), writes out, pause and resume,
 * and a close that happens once. The thin shell around a socket; the
 * decisions are the listener's and the session's.
 */
import type { Socket } from "node:net";
import { FrameReader, type FrameFault, type FrameRead, type FrameSink } from "./mqtt-frame-reader.js";
import type { SessionIo } from "./device-session.js";

/** A graceful close waits this long for the device to close its side, then cuts the socket. */
const GRACEFUL_CLOSE_MS = 1_000;

export interface ConnectionEvents {
  /** The bytes are not MQTT the listener will read (too large, malformed): the connection must go. */
  fault(connection: DeviceConnection, fault: FrameFault): void;
  closed(connection: DeviceConnection): void;
}

export class DeviceConnection implements SessionIo {
  readonly socket: Socket;
  /** The source address, as the limits count it. */
  readonly address: string;
  readonly acceptedAt: number;
  readonly reader: FrameReader;
  /** Last time bytes came in (the listener's clock). */
  lastActivity: number;
  authenticated = false;
  #sink: FrameSink;
  readonly #events: ConnectionEvents;
  readonly #now: () => number;
  #closed = false;
  /** Chunks that arrived while the reader was paused. */
  #waiting: Buffer[] = [];
  /** The listener closed it (for a reason it has logged), rather than the device or the network. */
  #closedHere = false;

  constructor(socket: Socket, address: string, maxPacketBytes: number, sink: FrameSink, events: ConnectionEvents, now: () => number) {
    this.socket = socket;
    this.address = address;
    this.reader = new FrameReader(maxPacketBytes);
    this.#sink = sink;
    this.#events = events;
    this.#now = now;
    this.acceptedAt = this.lastActivity = now();
    socket.on("data", (chunk: Buffer) => {
      // After our close (a DISCONNECT, a refusal) the device may still be sending: nothing more is read.
      if (this.#closed) return;
      this.lastActivity = this.#now();
      // Paused readers keep their place; a chunk that was already on its way waits behind it (one at most: the socket is paused too).
      if (this.reader.holding) this.#waiting.push(chunk);
      else this.#handle(this.reader.read(chunk, this.#sink));
    });
    // Errors (a reset, a TLS failure) end in "close"; the listener counts what it needs to there.
    socket.on("error", () => {});
    socket.once("close", () => {
      this.#closed = true;
      this.#events.closed(this);
    });
  }

  get closed(): boolean {
    return this.#closed || this.socket.destroyed;
  }

  get closedHere(): boolean {
    return this.#closedHere;
  }

  /** Who reads the frames from now on (the session, once logged in). */
  setSink(sink: FrameSink): void {
    this.#sink = sink;
  }

  write(bytes: Buffer): void {
    if (!this.closed) this.socket.write(bytes);
  }

  close(graceful = false): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closedHere = true;
    if (!graceful) {
      this.socket.destroy();
      return;
    }
    this.socket.end();
    setTimeout(() => this.socket.destroy(), GRACEFUL_CLOSE_MS).unref();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    if (!this.closed) this.socket.resume();
  }

  readKept(): void {
    if (this.closed) return;
    let read = this.reader.resume(this.#sink);
    while (read === "done" && this.#waiting.length > 0 && !this.closed) read = this.reader.read(this.#waiting.shift()!, this.#sink);
    this.#handle(read);
  }

  #handle(read: FrameRead): void {
    if (read === "done" || read === "paused") return;
    this.#events.fault(this, read);
  }
}
