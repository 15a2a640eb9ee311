/*
 * The flow-control window of one batch on a ConsumeEvent stream: which
 * events may be written now (at most maxInFlight unacknowledged), which
 * ack matches which event (by persistence id and seq_nr, in any order), and
 * what is still unacknowledged when the stream dies. Pure: no I/O.
 */
import type { ObservationKey } from "../connector.js";
import { keyString, type EncodedEvent } from "./akka-grpc-event.js";

export type AckVerdict = "acked" | "not-in-flight";

export class InFlightWindow {
  readonly maxInFlight: number;
  readonly #pending: EncodedEvent[];
  #next = 0;
  readonly #inFlight = new Map<string, EncodedEvent>();
  readonly #acked: ObservationKey[] = [];

  constructor(events: readonly EncodedEvent[], maxInFlight: number) {
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new RangeError(`maxInFlight must be a positive integer, got ${maxInFlight}`);
    this.maxInFlight = maxInFlight;
    // One event per key: two in flight under one key could not tell their acks apart.
    const seen = new Set<string>();
    this.#pending = events.filter((e) => {
      const key = keyString(e.persistenceId, e.seqNr);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  }

  /** The events to write now, as many as the window has room for; they count as in flight from here. */
  takeSendable(): EncodedEvent[] {
    const taken: EncodedEvent[] = [];
    while (this.#inFlight.size < this.maxInFlight && this.#next < this.#pending.length) {
      const event = this.#pending[this.#next++];
      this.#inFlight.set(keyString(event.persistenceId, event.seqNr), event);
      taken.push(event);
    }
    return taken;
  }

  /** "not-in-flight": never sent, already acked, or sent on another stream; the caller counts and ignores it. */
  ack(persistenceId: string, seqNr: number): AckVerdict {
    const key = keyString(persistenceId, seqNr);
    const event = this.#inFlight.get(key);
    if (event === undefined) return "not-in-flight";
    this.#inFlight.delete(key);
    this.#acked.push(event.key);
    return "acked";
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Every event of the batch is acknowledged. */
  get complete(): boolean {
    return this.#acked.length === this.#pending.length;
  }

  acked(): ObservationKey[] {
    return [...this.#acked];
  }

  /** In flight and not yet sent: what the relay must send again. */
  unacked(): ObservationKey[] {
    return [...[...this.#inFlight.values()].map((e) => e.key), ...this.#pending.slice(this.#next).map((e) => e.key)];
  }
}
