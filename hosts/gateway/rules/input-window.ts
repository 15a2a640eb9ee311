/*
 * The devices' observations the rules read, shared: rules that keep up
 * read the same newest rows, so each row is read from SQLite and parsed
 * once for all of them, not once per rule (the reads run on the event loop
 * that sends PUBACKs). A window of the newest rows read, contiguous in id
 * order; a rule behind the window reads SQLite directly, without caching.
 *
 * A row's wall time can be filled in after it was read (a clock anchor
 * arriving later); a rule sees the row as it was when read, which it would
 * from SQLite too, a moment earlier.
 */
import type { ObservationStore, RuleInputRow } from "../store/observation-store.js";
import type { WireObservation } from "./xs/protocol.js";

/** Rows held at most: a few seconds of a busy gateway, a few MB. */
export const INPUT_WINDOW_ROWS = 5000;

export interface InputRow {
  observation: WireObservation;
  /** The readings as stored (JSON), for the rules' selectors. */
  readings: string;
}

function toInput(row: RuleInputRow): InputRow {
  return {
    observation: { id: row.id, sensorId: row.sensor_id, seq: row.seq, time: row.time, receivedAt: row.received_at, readings: JSON.parse(row.readings) },
    readings: row.readings,
  };
}

export class InputWindow {
  readonly #store: ObservationStore;
  readonly #capacity: number;
  #rows: InputRow[] = [];
  /** The window holds every device row with an id in (#from, #to]. */
  #from = 0;
  #to = -1;

  constructor(store: ObservationStore, capacity = INPUT_WINDOW_ROWS) {
    this.#store = store;
    this.#capacity = capacity;
  }

  /** Devices' observations after `after`, oldest first, at most `limit`. */
  read(after: number, limit: number): InputRow[] {
    if (after < this.#from || after > this.#to) {
      const rows = this.#readAfter(after, limit);
      // A read at or past the window's end starts a new window; one behind it is not kept.
      if (after >= this.#to) this.#reset(after, rows.rows, rows.end);
      return rows.rows;
    }
    const out: InputRow[] = [];
    for (let i = this.#firstAfter(after); i < this.#rows.length && out.length < limit; i++) out.push(this.#rows[i]);
    if (out.length < limit) {
      const more = this.#readAfter(this.#to, limit - out.length);
      this.#append(more.rows, more.end);
      out.push(...more.rows);
    }
    return out;
  }

  /**
   * Device rows after `after` from SQLite, and how far they cover: to the store's last committed row when it read
   * them all, so the derived rows between (a rule's) are not scanned again. Each rule that keeps up looks here after
   * every delivery: with nothing committed since, it asks SQLite nothing.
   */
  #readAfter(after: number, limit: number): { rows: InputRow[]; end: number } {
    const last = this.#store.lastRowId;
    if (after >= last) return { rows: [], end: after };
    const rows = this.#store.rules.inputsAfter(after, limit).map(toInput);
    return { rows, end: rows.length < limit ? last : rows[rows.length - 1].observation.id };
  }

  #reset(after: number, rows: InputRow[], end: number): void {
    this.#rows = [];
    this.#from = after;
    this.#to = after;
    this.#append(rows, end);
  }

  /** Rows read after the window's end, oldest first, that cover ids up to `end`: the window now ends there. */
  #append(rows: InputRow[], end: number): void {
    if (end > this.#to) this.#to = end;
    if (rows.length === 0) return;
    this.#rows.push(...rows);
    const over = this.#rows.length - this.#capacity;
    if (over > 0) {
      this.#from = this.#rows[over - 1].observation.id;
      this.#rows = this.#rows.slice(over);
    }
  }

  #firstAfter(after: number): number {
    let lo = 0;
    let hi = this.#rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#rows[mid].observation.id <= after) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
