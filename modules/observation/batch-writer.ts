/*
 * Builds an observation batch record (kind 3, modules/SPEC.md) one sample at
 * a time, in buffers allocated once. Consecutive samples of one sensor share
 * the sensor id, boot and quantity list, and their sequence numbers and
 * uptimes differ by small amounts, so a batch spends about 7 bytes on each
 * further TMP117 sample where a record of its own would spend 23 plus 7 of
 * flash framing. That difference is what lets a 64 KB log last 15 years at
 * one sample a second (the benchmark's flash-life figure).
 */
import { CborOverflowError, CborWriter } from "./cbor-writer.js";
import { MAX_READINGS, MAX_RECORD_BYTES, ObservationError, RecordKind, exponentOf, mantissaOf, writeQuantity, type Observation } from "./record.js";

/** A CBOR array header of more than 23 items takes 2 bytes; one of more than 255, 3 (never reached in 255 bytes). */
const MAX_ARRAY_HEADER_BYTES = 2;

export class BatchWriter {
  readonly #items: CborWriter;
  readonly #record: CborWriter;
  /** The open batch's quantity list: names, and for declared quantities their units and exponents. */
  readonly #names: string[] = [];
  readonly #units: (string | undefined)[] = [];
  readonly #exponents = new Int8Array(MAX_READINGS);
  #itemCount = 0;
  #quantityCount = 0;
  #count = 0;
  #sensorId = "";
  #boot = 0;
  #lastSeq = 0;
  #lastUptime = 0;
  #firstUptime = 0;

  constructor(maxRecordBytes = MAX_RECORD_BYTES) {
    for (let i = 0; i < MAX_READINGS; i++) {
      this.#names.push("");
      this.#units.push(undefined);
    }
    this.#items = new CborWriter(maxRecordBytes - MAX_ARRAY_HEADER_BYTES);
    this.#record = new CborWriter(maxRecordBytes);
  }

  /** Observations in the open batch. */
  get count(): number {
    return this.#count;
  }

  /** Uptime of the open batch's first observation: how long it has been open. */
  get firstUptimeMs(): number {
    return this.#firstUptime;
  }

  /**
   * Adds `count` readings of `obs`; false when it does not belong in the open
   * batch (another boot, another set of quantities, or no room left): finish
   * the batch and add it again.
   */
  add(obs: Observation, count = obs.readings.length): boolean {
    if (count === 0 || count > MAX_READINGS) throw new ObservationError("readings", `must hold 1 to ${MAX_READINGS} readings`);
    if (this.#count > 0 && !this.#fits(obs, count)) return false;
    const items = this.#items;
    const mark = items.length;
    const markItems = this.#itemCount;
    try {
      if (this.#count === 0) this.#open(obs, count);
      else {
        if (obs.seq <= this.#lastSeq || obs.uptimeMs < this.#lastUptime) return false;
        items.integer(obs.seq - this.#lastSeq).integer(obs.uptimeMs - this.#lastUptime);
        this.#itemCount += 2;
      }
      for (let i = 0; i < count; i++) items.integer(mantissaOf(obs.readings[i], i));
      this.#itemCount += count;
    } catch (error) {
      // Out of room: undo this observation, the batch as it was stays intact.
      items.length = mark;
      this.#itemCount = markItems;
      if (error instanceof CborOverflowError && this.#count > 0) return false;
      throw error;
    }
    this.#count++;
    this.#lastSeq = obs.seq;
    this.#lastUptime = obs.uptimeMs;
    return true;
  }

  /** The batch's record (a view, valid until the next add or finish); the writer starts empty again. */
  finish(): Uint8Array {
    if (this.#count === 0) throw new RangeError("no observations to finish a batch with");
    const record = this.#record.reset().arrayHeader(this.#itemCount);
    record.bytes.set(this.#items.view(), record.length);
    record.length += this.#items.length;
    this.#items.reset();
    this.#itemCount = 0;
    this.#count = 0;
    return record.view();
  }

  #open(obs: Observation, count: number): void {
    const items = this.#items.reset();
    items.integer(RecordKind.BATCH).text(obs.sensorId).integer(obs.boot).arrayHeader(count);
    for (let i = 0; i < count; i++) {
      const reading = obs.readings[i];
      this.#exponents[i] = exponentOf(reading, i);
      writeQuantity(items, reading, i);
      this.#names[i] = reading.quantity;
      this.#units[i] = reading.unit;
    }
    items.integer(obs.seq).integer(obs.uptimeMs);
    this.#itemCount = 6;
    this.#quantityCount = count;
    this.#sensorId = obs.sensorId;
    this.#boot = obs.boot;
    this.#firstUptime = obs.uptimeMs;
  }

  #fits(obs: Observation, count: number): boolean {
    if (obs.sensorId !== this.#sensorId || obs.boot !== this.#boot || count !== this.#quantityCount) return false;
    for (let i = 0; i < count; i++) {
      const reading = obs.readings[i];
      if (reading.quantity !== this.#names[i] || reading.unit !== this.#units[i]) return false;
      if (reading.unit !== undefined && reading.exponent !== this.#exponents[i]) return false;
    }
    return true;
  }
}
