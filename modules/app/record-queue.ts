/*
 * Encoded records waiting for the uplink, in RAM and bounded: when the
 * gateway is unreachable for longer than the queue covers, the oldest records
 * are dropped and counted, never the device's memory exhausted. (The flash
 * log replaces this for store-and-forward across reboots.)
 */
export class RecordQueue {
  readonly capacity: number;
  readonly #slots: (Uint8Array | undefined)[];
  #head = 0;
  #size = 0;
  /** Records dropped because the queue was full. */
  dropped = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`invalid queue capacity ${capacity}`);
    this.capacity = capacity;
    this.#slots = new Array(capacity);
  }

  get size(): number {
    return this.#size;
  }

  push(record: Uint8Array): void {
    if (this.#size === this.capacity) {
      this.shift();
      this.dropped++;
    }
    this.#slots[(this.#head + this.#size) % this.capacity] = record;
    this.#size++;
  }

  peek(): Uint8Array | undefined {
    return this.#size === 0 ? undefined : this.#slots[this.#head];
  }

  shift(): Uint8Array | undefined {
    if (this.#size === 0) return undefined;
    const record = this.#slots[this.#head];
    this.#slots[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.capacity;
    this.#size--;
    return record;
  }
}
