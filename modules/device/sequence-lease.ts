/*
 * Boot counter and per-sensor sequence numbers that survive reboots without a
 * flash write per sample: the device reserves sequence numbers in blocks and
 * records only each block's end. After a power cut it resumes past the
 * reserved block, so a number is never reused (the gateway drops repeats by
 * sensor id and sequence) at the cost of a gap.
 */
export interface PreferenceStore {
  get(domain: string, key: string): unknown;
  set(domain: string, key: string, value: number): void;
}

/** Sequence numbers reserved per preference write: at 1 Hz, one write every ~17 minutes. */
export const SEQUENCE_LEASE = 1000;
/** Preferences hold signed 32-bit integers; at 1 Hz this lasts 68 years. */
const MAX_SEQUENCE = 0x7fffffff;

export class SequenceLease {
  readonly boot: number;
  readonly #store: PreferenceStore;
  readonly #domain: string;
  #next: number;
  #reservedUpTo: number;

  constructor(store: PreferenceStore, domain: string) {
    this.#store = store;
    this.#domain = domain;
    const boot = store.get(domain, "boot");
    this.boot = (typeof boot === "number" && boot >= 0 ? boot : 0) + 1;
    store.set(domain, "boot", this.boot);
    const reserved = store.get(domain, "seq");
    const last = typeof reserved === "number" && reserved > 0 ? reserved : 0;
    this.#next = last + 1;
    this.#reservedUpTo = last;
  }

  /** The next sequence number, reserving a new block first when the current one is used up. */
  next(): number {
    if (this.#next > this.#reservedUpTo) {
      if (this.#next > MAX_SEQUENCE - SEQUENCE_LEASE) throw new RangeError("sequence numbers exhausted");
      this.#reservedUpTo = this.#next + SEQUENCE_LEASE - 1;
      this.#store.set(this.#domain, "seq", this.#reservedUpTo);
    }
    return this.#next++;
  }
}
