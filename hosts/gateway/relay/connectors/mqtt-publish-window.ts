/*
 * One batch's way through an MQTT connection, free of I/O: which
 * observations to publish next (at most `limit` awaiting their PUBACK), and
 * what the batch came to. Only a PUBACK acknowledges; a refusal, a timeout,
 * a lost connection or a close leaves the observation for the relay to send
 * again. The shell (mqtt.ts) publishes, times, and reports back.
 */

export type WindowEnd =
  /** A PUBACK did not come in time: the broker is stuck, so the batch stops. */
  | { kind: "timeout"; index: number; afterMs: number }
  /** The connection dropped, or the connector closed: what is in flight may never be acknowledged. */
  | { kind: "lost"; reason: string };

export interface WindowResult {
  /** Indices into the batch, in PUBACK order. */
  acked: number[];
  /** In flight when the batch ended: published, never acknowledged. */
  abandoned: number;
  /** Why the batch is not wholly acknowledged; null when it is. */
  error: string | null;
}

export class PublishWindow {
  readonly #size: number;
  readonly #limit: number;
  #next = 0;
  readonly #inFlight = new Set<number>();
  readonly #acked: number[] = [];
  /** The first refusal's reason; later ones say the same or worse. */
  #refusal: string | null = null;
  #refused = 0;
  #ended: string | null = null;
  #abandoned = 0;

  /** `limit`: how many may await a PUBACK at once (>= 1). */
  constructor(size: number, limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`publish window limit must be a positive integer, got ${limit}`);
    this.#size = size;
    this.#limit = limit;
  }

  /** The indices to publish now; the caller publishes each and reports its outcome. None once the batch is done. */
  take(): number[] {
    const out: number[] = [];
    while (!this.done && this.#next < this.#size && this.#inFlight.size < this.#limit) {
      this.#inFlight.add(this.#next);
      out.push(this.#next++);
    }
    return out;
  }

  /** Whether `index` awaits its PUBACK (false for an outcome that comes after the batch ended). */
  awaiting(index: number): boolean {
    return this.#ended === null && this.#inFlight.has(index);
  }

  acked(index: number): void {
    if (!this.awaiting(index)) return;
    this.#inFlight.delete(index);
    this.#acked.push(index);
  }

  /** The broker answered with a failing reason code, or the observation could not be published: not acked, the rest go on. */
  refused(index: number, reason: string): void {
    if (!this.awaiting(index)) return;
    this.#inFlight.delete(index);
    this.#refused++;
    this.#refusal ??= reason;
  }

  end(how: WindowEnd): void {
    if (this.#ended !== null) return;
    this.#abandoned = this.#inFlight.size;
    this.#inFlight.clear();
    this.#ended = how.kind === "timeout" ? `no PUBACK within ${how.afterMs} ms for observation ${how.index + 1} of ${this.#size}` : how.reason;
  }

  /** Every observation answered, or the batch ended early. */
  get done(): boolean {
    return this.#ended !== null || (this.#next === this.#size && this.#inFlight.size === 0);
  }

  result(): WindowResult {
    let error = this.#ended;
    if (this.#refusal !== null) {
      const refused = `${this.#refused} of ${this.#size} refused by the broker: ${this.#refusal}`;
      error = error === null ? refused : `${error}; ${refused}`;
    }
    return { acked: [...this.#acked], abandoned: this.#abandoned, error };
  }
}
