/*
 * The CBOR a device reads (RFC 8949): what the gateway's messages to it use
 * and nothing more — unsigned and negative integers, floats, UTF-8 text,
 * definite arrays, true, false, null. Messages to a device are rare and
 * small, so this allocates the values it returns; it is bounded by the
 * input's length, the nesting depth and the item count, and refuses anything
 * else (maps, tags, byte strings, indefinite lengths) with a CborReadError.
 */

export class CborReadError extends RangeError {
  // Defined, not assigned: on a board Error.prototype is frozen, and assigning over its name throws.
  override readonly name = "CborReadError";
  constructor(message: string) {
    super(`CBOR: ${message}`);
  }
}

export type CborValue = number | string | boolean | null | CborValue[];

/** Arrays inside arrays: a message is one array of scalars, so one level of nesting is room to spare. */
export const MAX_DEPTH = 2;
/** Items in one array: bounds the work a hostile message can ask for before it is refused. */
export const MAX_ITEMS = 64;

const MAJOR_UNSIGNED = 0;
const MAJOR_NEGATIVE = 1;
const MAJOR_TEXT = 3;
const MAJOR_ARRAY = 4;
const MAJOR_SIMPLE = 7;

export class CborReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #at = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Reads the one item the bytes hold; trailing bytes are an error. */
  readAll(): CborValue {
    const value = this.#item(0);
    if (this.#at !== this.#bytes.length) throw new CborReadError(`${this.#bytes.length - this.#at} bytes after the item`);
    return value;
  }

  #item(depth: number): CborValue {
    const head = this.#byte();
    const major = head >> 5;
    const info = head & 0x1f;
    if (major === MAJOR_SIMPLE) return this.#simple(info);
    const argument = this.#argument(info);
    switch (major) {
      case MAJOR_UNSIGNED:
        return argument;
      case MAJOR_NEGATIVE:
        return -1 - argument;
      case MAJOR_TEXT:
        return this.#text(argument);
      case MAJOR_ARRAY: {
        if (depth >= MAX_DEPTH) throw new CborReadError(`arrays nested deeper than ${MAX_DEPTH}`);
        if (argument > MAX_ITEMS) throw new CborReadError(`array of ${argument} items, limit ${MAX_ITEMS}`);
        const items: CborValue[] = [];
        for (let i = 0; i < argument; i++) items.push(this.#item(depth + 1));
        return items;
      }
      default:
        throw new CborReadError(`major type ${major} (byte strings, maps and tags) is not used in messages to a device`);
    }
  }

  #byte(): number {
    if (this.#at >= this.#bytes.length) throw new CborReadError("truncated");
    return this.#bytes[this.#at++];
  }

  #need(count: number): void {
    if (this.#at + count > this.#bytes.length) throw new CborReadError("truncated");
  }

  #argument(info: number): number {
    if (info < 24) return info;
    if (info === 24) return this.#byte();
    if (info === 25) {
      this.#need(2);
      const value = this.#view.getUint16(this.#at);
      this.#at += 2;
      return value;
    }
    if (info === 26) {
      this.#need(4);
      const value = this.#view.getUint32(this.#at);
      this.#at += 4;
      return value;
    }
    if (info === 27) {
      this.#need(8);
      const high = this.#view.getUint32(this.#at);
      const low = this.#view.getUint32(this.#at + 4);
      this.#at += 8;
      // Above 2^53 a number is no longer exact: refused rather than rounded.
      if (high >= 0x200000) throw new CborReadError("integer beyond 2^53");
      return high * 0x100000000 + low;
    }
    throw new CborReadError(info === 31 ? "indefinite lengths are not used in messages to a device" : `reserved additional information ${info}`);
  }

  #simple(info: number): CborValue {
    if (info === 20) return false;
    if (info === 21) return true;
    if (info === 22) return null;
    if (info === 25) {
      this.#need(2);
      const half = this.#view.getUint16(this.#at);
      this.#at += 2;
      return halfToNumber(half);
    }
    if (info === 26) {
      this.#need(4);
      const value = this.#view.getFloat32(this.#at);
      this.#at += 4;
      return value;
    }
    if (info === 27) {
      this.#need(8);
      const value = this.#view.getFloat64(this.#at);
      this.#at += 8;
      return value;
    }
    throw new CborReadError(`simple value ${info} is not used in messages to a device`);
  }

  /** UTF-8, decoded here: XS on a board has no TextDecoder. Malformed UTF-8 is refused. */
  #text(length: number): string {
    this.#need(length);
    const bytes = this.#bytes;
    const end = this.#at + length;
    let text = "";
    let at = this.#at;
    while (at < end) {
      const c = bytes[at++];
      let cp: number;
      let more: number;
      let min: number;
      if (c < 0x80) { cp = c; more = 0; min = 0; }
      else if ((c & 0xe0) === 0xc0) { cp = c & 0x1f; more = 1; min = 0x80; }
      else if ((c & 0xf0) === 0xe0) { cp = c & 0x0f; more = 2; min = 0x800; }
      else if ((c & 0xf8) === 0xf0) { cp = c & 0x07; more = 3; min = 0x10000; }
      else throw new CborReadError("text is not UTF-8");
      if (at + more > end) throw new CborReadError("text is not UTF-8");
      for (; more > 0; more--) {
        const d = bytes[at++];
        if ((d & 0xc0) !== 0x80) throw new CborReadError("text is not UTF-8");
        cp = (cp << 6) | (d & 0x3f);
      }
      if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw new CborReadError("text is not UTF-8");
      text += String.fromCodePoint(cp);
    }
    this.#at = end;
    return text;
  }
}

/** IEEE 754 half precision (RFC 8949 appendix D). */
function halfToNumber(half: number): number {
  const exponent = (half >> 10) & 0x1f;
  const mantissa = half & 0x3ff;
  const sign = half & 0x8000 ? -1 : 1;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (mantissa + 1024) * 2 ** (exponent - 25);
}
