/*
 * Events on a virtual clock: each runs at its time, in the order of (time,
 * the order it was scheduled in), so a run repeats exactly. A binary heap:
 * a day of a fleet's network deliveries is millions of events.
 */
export interface QueuedEvent {
  at: number;
  order: number;
  run: () => void;
}

export class EventQueue {
  readonly #heap: QueuedEvent[] = [];
  #order = 0;

  get size(): number {
    return this.#heap.length;
  }

  /** The earliest event's time, or Infinity. */
  get next(): number {
    return this.#heap.length > 0 ? this.#heap[0].at : Infinity;
  }

  schedule(at: number, run: () => void): QueuedEvent {
    if (!Number.isFinite(at)) throw new RangeError(`cannot schedule an event at ${at}`);
    const event = { at, order: this.#order++, run };
    const heap = this.#heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(event, heap[parent])) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = event;
    return event;
  }

  /** Removes and returns the earliest event if it is due before `limit`. */
  take(limit: number): QueuedEvent | undefined {
    const heap = this.#heap;
    if (heap.length === 0 || heap[0].at >= limit) return undefined;
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= heap.length) break;
        const right = left + 1;
        const child = right < heap.length && before(heap[right], heap[left]) ? right : left;
        if (!before(heap[child], last)) break;
        heap[i] = heap[child];
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }
}

function before(a: QueuedEvent, b: QueuedEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order);
}
