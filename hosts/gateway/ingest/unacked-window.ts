/*
 * How many messages from the external broker may be awaiting their commit
 * at once. MQTT.js reads the next publish only when `handleMessage` calls
 * back; external-broker.ts calls back as soon as a publish is handed to the
 * outbox, so many publishes share one group commit (one fsync), and this
 * window holds the call back once the limit is reached, which stops MQTT.js
 * reading (TCP then stops the broker) until a commit settles.
 *
 * No I/O: the caller passes what to run when there is room.
 */

/**
 * Messages awaiting their commit at most. The broker's own window
 * (mosquitto's max_inflight_messages, 20 by default) normally binds first;
 * this one holds when an operator raises it. 1,000 is one full group commit
 * (MAX_GROUP_COMMIT): the commit is synchronous, so more awaiting than that
 * only happens while the outbox holds publishes (backpressure, rate limit),
 * and reading on then would only pile up packets. Each awaiting message
 * holds its publish (a record is at most a few hundred bytes) and a few
 * closures: about 1-2 MB at the limit, small even on a Raspberry Pi.
 */
export const MAX_UNACKED_EXTERNAL = 1000;

export class UnackedWindow {
  readonly limit: number;
  #awaiting = 0;
  #largest = 0;
  /** Callers held at the limit, in arrival order (MQTT.js holds at most one: it reads nothing until called back). */
  readonly #held: (() => void)[] = [];

  constructor(limit = MAX_UNACKED_EXTERNAL) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`unacked window limit must be a positive integer, got ${limit}`);
    this.limit = limit;
  }

  /** Messages awaiting their commit now. */
  get awaiting(): number {
    return this.#awaiting;
  }

  /** The most ever awaiting at once. */
  get largest(): number {
    return this.#largest;
  }

  /** One more message awaits its commit; `next` runs once another may be read: at once, or when one settles. */
  enter(next: () => void): void {
    this.#awaiting++;
    this.#largest = Math.max(this.#largest, this.#awaiting);
    if (this.#awaiting < this.limit) next();
    else this.#held.push(next);
  }

  /** A message's commit settled (whatever its outcome): one held caller, if any, may go on. */
  settle(): void {
    if (this.#awaiting === 0) throw new Error("unacked window: settle() without a message awaiting");
    this.#awaiting--;
    if (this.#awaiting < this.limit) this.#held.shift()?.();
  }
}
