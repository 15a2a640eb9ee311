/*
 * One Server-Sent Events subscriber of an append-only log (the cloud's
 * observation log, the gateway's store).
 *
 * The session keeps a cursor (the last id sent) and, when woken, reads the
 * log after it, page by page, honouring backpressure. New entries only wake
 * it; the data always comes from the log. So a subscriber that resumes,
 * falls behind or is woken mid-page never misses or repeats an event.
 *
 * Memory per subscriber is bounded by its send buffer: a page is written
 * only while what is queued for the subscriber (node's buffer and the
 * socket's) stays within `maxBufferedBytes`, else it waits for the queue to
 * drain; so at most that much plus one page is held. A subscriber that
 * stops reading would hold its session (and socket) forever, so one whose
 * queue has not drained within `stallMs` is disconnected (and reported
 * through `onStalled`); it resumes later from its Last-Event-ID like any
 * other. Subscribers catching up take turns: one page of one of them per
 * turn of the event loop, so a crowd of them delays a device's PUBACK by a
 * page's cost at most, not by a page each. How many subscribers there may
 * be is sse-admission.ts's to say.
 */
import type { ServerResponse } from "node:http";
import { DEFAULT_SSE_MAX_BUFFERED_BYTES } from "./sse-admission.js";

/** Rows read per page while catching up: about 150 kB of observation JSON. */
const PAGE = 500;

/** Comment line sent this often so idle proxies keep the connection. */
export const SSE_HEARTBEAT_MS = 15_000;

/**
 * How long a page may wait to drain before the subscriber counts as stalled:
 * two heartbeats, so a reader on a slow but working link is never cut off.
 */
export const SSE_STALL_MS = 2 * SSE_HEARTBEAT_MS;

export type ReadAfter<T> = (id: number, limit: number) => T[];

/**
 * Hands out turns, one per turn of the event loop (setImmediate queued from
 * an immediate runs on the next iteration, after the poll phase's I/O).
 */
export class LoopTurns {
  readonly #waiting: Array<() => void> = [];
  #scheduled = false;

  /** Resolves on a turn of its own. */
  next(): Promise<void> {
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#waiting.shift()?.();
      if (this.#waiting.length > 0) this.#schedule();
    });
  }
}

/** Shared by every session in the process: the event loop is one, whoever's sessions they are. */
const catchUpTurns = new LoopTurns();

export interface SseOptions<T> {
  /** The event id of a row; the row's `offset` by default. */
  idOf?: (row: T) => number;
  /** What a row's event carries; the whole row by default. */
  data?: (row: T) => unknown;
  /** Default SSE_STALL_MS. */
  stallMs?: number;
  /** Called once when the session is disconnected for not reading. */
  onStalled?: () => void;
  /** Default DEFAULT_SSE_MAX_BUFFERED_BYTES (sse-admission.ts). */
  maxBufferedBytes?: number;
}

function offsetOf(row: unknown): number {
  return (row as { offset: number }).offset;
}

// `any` by default so the cloud's `Set<SseSession>` holds sessions of its rows without naming the type.
export class SseSession<T = any> {
  readonly #res: ServerResponse;
  readonly #read: ReadAfter<T>;
  readonly #heartbeat: ReturnType<typeof setInterval>;
  readonly #idOf: (row: T) => number;
  readonly #data: (row: T) => unknown;
  readonly #stallMs: number;
  readonly #onStalled: () => void;
  readonly #maxBuffered: number;
  #cursor: number;
  /** The last write found the queue above its high-water mark: 'drain' will say when it is empty. */
  #needsDrain = false;
  #pumping = false;
  #wokenWhilePumping = false;
  #closed = false;

  constructor(res: ServerResponse, read: ReadAfter<T>, after: number, onClose: () => void, options: SseOptions<T> = {}) {
    this.#res = res;
    this.#read = read;
    this.#cursor = after;
    this.#idOf = options.idOf ?? offsetOf;
    this.#data = options.data ?? ((row) => row);
    this.#stallMs = options.stallMs ?? SSE_STALL_MS;
    this.#onStalled = options.onStalled ?? (() => {});
    this.#maxBuffered = options.maxBufferedBytes ?? DEFAULT_SSE_MAX_BUFFERED_BYTES;
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive" });
    // Sends the headers now, so a client knows it is subscribed before the first event.
    res.write(`: subscribed after ${after}\n\n`);
    // Only onto an empty queue: one with data waiting keeps the connection busy anyway, and must not grow.
    this.#heartbeat = setInterval(() => res.writableLength === 0 && res.write(": keep-alive\n\n"), SSE_HEARTBEAT_MS);
    res.on("drain", () => (this.#needsDrain = false));
    res.once("close", () => {
      this.#closed = true;
      clearInterval(this.#heartbeat);
      onClose();
    });
  }

  /** The id of the last event sent. */
  get cursor(): number {
    return this.#cursor;
  }

  /** Bytes written and not yet taken by the kernel (node's queue and the socket's). */
  get buffered(): number {
    return this.#closed ? 0 : this.#res.writableLength;
  }

  /** Something was stored (or the session just started): send whatever is after the cursor. */
  wake(): void {
    if (this.#closed) return;
    if (this.#pumping) {
      this.#wokenWhilePumping = true;
      return;
    }
    this.#pumping = true;
    this.#pump()
      // A log that fails mid-stream ends this subscription; the client resumes from its Last-Event-ID.
      .catch((error: Error) => this.#res.destroy(error))
      .finally(() => (this.#pumping = false));
  }

  /**
   * Ends the stream (the server is stopping). One with data still queued is
   * cut off instead: a client that does not read would otherwise hold the
   * connection, and the server's close, for as long as it likes; it resumes
   * from its Last-Event-ID like any other.
   */
  end(): void {
    if (this.#closed) return;
    if (this.#res.writableLength > 0) this.#res.destroy();
    else this.#res.end();
  }

  async #pump(): Promise<void> {
    do {
      this.#wokenWhilePumping = false;
      for (;;) {
        if (this.#closed) return;
        const rows = this.#read(this.#cursor, PAGE);
        if (rows.length === 0) break;
        const text = rows.map((row) => `id: ${this.#idOf(row)}\ndata: ${JSON.stringify(this.#data(row))}\n\n`).join("");
        this.#cursor = this.#idOf(rows[rows.length - 1]);
        // Below the stream's high-water mark (write returned true) the queue is small and 'drain' never comes.
        if (this.#needsDrain && this.#res.writableLength + Buffer.byteLength(text) > this.#maxBuffered) {
          if (!(await this.#drained())) {
            this.#onStalled();
            this.#res.destroy();
            return;
          }
        }
        if (this.#closed) return;
        this.#needsDrain = !this.#res.write(text);
        if (rows.length < PAGE) break;
        await catchUpTurns.next();
      }
    } while (this.#wokenWhilePumping);
  }

  /** True once drained (or closed), false if still waiting after stallMs. */
  #drained(): Promise<boolean> {
    return new Promise((resolve) => {
      if (!this.#needsDrain || this.#closed) return resolve(true);
      const done = (drained: boolean) => {
        clearTimeout(timer);
        this.#res.off("drain", onDrain);
        this.#res.off("close", onDrain);
        resolve(drained);
      };
      const onDrain = () => done(true);
      const timer = setTimeout(() => done(this.#closed), this.#stallMs);
      this.#res.once("drain", onDrain);
      this.#res.once("close", onDrain);
    });
  }
}
