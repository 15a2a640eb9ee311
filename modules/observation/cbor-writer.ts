/*
 * The few CBOR items (RFC 8949) a device record needs, written into a buffer
 * the caller owns. cbor-x cannot load on Moddable's XS (it reads `.name` of
 * built-in constructors, which XS builds for devices leave out) and would
 * cost the device most of its RAM; this writes the same canonical bytes —
 * shortest-form integers and lengths, definite lengths — with no allocation.
 * cbor-x remains the reference that tests check these bytes against.
 */

/** Thrown when a record does not fit the buffer: a caller's size limit, never silent truncation. */
export class CborOverflowError extends RangeError {
  // Defined, not assigned: on a board Error.prototype is frozen, and assigning over its name throws.
  override readonly name = "CborOverflowError";
  constructor(need: number, capacity: number) {
    super(`CBOR record needs more than ${capacity} bytes (at least ${need})`);
  }
}

const MAJOR_UNSIGNED = 0 << 5;
const MAJOR_NEGATIVE = 1 << 5;
const MAJOR_TEXT = 3 << 5;
const MAJOR_ARRAY = 4 << 5;
const SIMPLE_NULL = 0xf6;
/** 2^53: beyond it a JS number is no longer an exact integer. */
const MAX_EXACT = Number.MAX_SAFE_INTEGER;

export class CborWriter {
  readonly bytes: Uint8Array;
  length = 0;

  constructor(capacity: number) {
    this.bytes = new Uint8Array(capacity);
  }

  reset(): this {
    this.length = 0;
    return this;
  }

  /** The bytes written so far, as a view (valid until the next reset). */
  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }

  arrayHeader(count: number): this {
    return this.#head(MAJOR_ARRAY, count);
  }

  integer(value: number): this {
    if (!Number.isInteger(value) || Math.abs(value) > MAX_EXACT) throw new RangeError(`CBOR: ${value} is not an exact integer`);
    // Negative n is encoded as -1 - n so that the range is symmetric ([RFC 8949 §3.1] major type 1).
    return value >= 0 ? this.#head(MAJOR_UNSIGNED, value) : this.#head(MAJOR_NEGATIVE, -1 - value);
  }

  null(): this {
    this.#room(1);
    this.bytes[this.length++] = SIMPLE_NULL;
    return this;
  }

  /** UTF-8 text, encoded here: XS on a board has no TextEncoder. */
  text(value: string): this {
    let size = 0;
    for (let i = 0; i < value.length; i++) {
      const code = value.codePointAt(i)!;
      size += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
      if (code >= 0x10000) i++;
    }
    this.#head(MAJOR_TEXT, size);
    this.#room(size);
    const out = this.bytes;
    let at = this.length;
    for (let i = 0; i < value.length; i++) {
      const code = value.codePointAt(i)!;
      if (code < 0x80) out[at++] = code;
      else if (code < 0x800) {
        out[at++] = 0xc0 | (code >> 6);
        out[at++] = 0x80 | (code & 0x3f);
      } else if (code < 0x10000) {
        out[at++] = 0xe0 | (code >> 12);
        out[at++] = 0x80 | ((code >> 6) & 0x3f);
        out[at++] = 0x80 | (code & 0x3f);
      } else {
        out[at++] = 0xf0 | (code >> 18);
        out[at++] = 0x80 | ((code >> 12) & 0x3f);
        out[at++] = 0x80 | ((code >> 6) & 0x3f);
        out[at++] = 0x80 | (code & 0x3f);
        i++;
      }
    }
    this.length = at;
    return this;
  }

  /** A major type with its argument in the shortest form ([RFC 8949 §4.2.1] preferred serialization). */
  #head(major: number, argument: number): this {
    const out = this.bytes;
    if (argument < 24) {
      this.#room(1);
      out[this.length++] = major | argument;
    } else if (argument < 0x100) {
      this.#room(2);
      out[this.length++] = major | 24;
      out[this.length++] = argument;
    } else if (argument < 0x10000) {
      this.#room(3);
      out[this.length++] = major | 25;
      out[this.length++] = argument >> 8;
      out[this.length++] = argument & 0xff;
    } else if (argument < 0x100000000) {
      this.#room(5);
      out[this.length++] = major | 26;
      this.#u32(argument);
    } else {
      this.#room(9);
      out[this.length++] = major | 27;
      this.#u32(Math.floor(argument / 0x100000000));
      this.#u32(argument % 0x100000000);
    }
    return this;
  }

  #u32(value: number): void {
    const out = this.bytes;
    out[this.length++] = (value >>> 24) & 0xff;
    out[this.length++] = (value >>> 16) & 0xff;
    out[this.length++] = (value >>> 8) & 0xff;
    out[this.length++] = value & 0xff;
  }

  #room(count: number): void {
    if (this.length + count > this.bytes.length) throw new CborOverflowError(this.length + count, this.bytes.length);
  }
}
