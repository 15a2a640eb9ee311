/*
 * Where the registration stream stands and for how long, free of I/O: the
 * consumer tells it what happened (a stream requested, confirmed, a message,
 * an end), the clock's reading with each; /healthz and /metrics read its
 * snapshot. A stream that brings nothing is normal (registrations are rare),
 * so "connected" and "idle for an hour" are both healthy; "down for five
 * minutes" is not.
 */

export type StreamPhase =
  /** Not started yet. */
  | "idle"
  /** A stream is requested and not yet confirmed (no header, no event, no settled connection). */
  | "connecting"
  | "connected"
  /** The last stream ended; the next one is due after the backoff (or at once after a recycle). */
  | "retrying"
  | "closed";

export interface StreamLifeSnapshot {
  phase: StreamPhase;
  /** Since the current stream was requested; null between streams. */
  streamAgeMs: number | null;
  /** Since the current stream last brought a message (or was requested); null between streams. */
  idleMs: number | null;
  /** Since the link was last connected (or since start, if never); null while connected. */
  downForMs: number | null;
  /** Streams ended on purpose for bringing nothing for the idle-recycle time. */
  recycles: number;
}

export class StreamLife {
  #phase: StreamPhase = "idle";
  #requestedAt: number | null = null;
  #lastMessageAt: number | null = null;
  #downSince: number | null = null;
  #recycles = 0;

  get phase(): StreamPhase {
    return this.#phase;
  }

  requested(now: number): void {
    if (this.#phase === "closed") return;
    this.#phase = "connecting";
    this.#requestedAt = now;
    this.#lastMessageAt = now;
    this.#downSince ??= now;
  }

  /** True the first time the current stream is confirmed (the caller logs that once). */
  connected(): boolean {
    if (this.#phase !== "connecting") return false;
    this.#phase = "connected";
    this.#downSince = null;
    return true;
  }

  message(now: number): void {
    this.#lastMessageAt = now;
  }

  ended(now: number, recycled: boolean): void {
    if (this.#phase === "closed") return;
    this.#phase = "retrying";
    this.#requestedAt = null;
    this.#lastMessageAt = null;
    this.#downSince ??= now;
    if (recycled) this.#recycles++;
  }

  closed(): void {
    this.#phase = "closed";
    this.#requestedAt = null;
    this.#lastMessageAt = null;
  }

  snapshot(now: number): StreamLifeSnapshot {
    const since = (at: number | null) => (at === null ? null : Math.max(0, now - at));
    return {
      phase: this.#phase,
      streamAgeMs: since(this.#requestedAt),
      idleMs: since(this.#lastMessageAt),
      downForMs: this.#phase === "connected" || this.#phase === "closed" ? null : since(this.#downSince),
      recycles: this.#recycles,
    };
  }
}
