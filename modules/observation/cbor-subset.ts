/*
 * Whether bytes from outside are one well-formed CBOR item of the kind a
 * record or a report is built from (definite arrays, integers, text, simple
 * values and floats), checked before cbor-x reads them. cbor-x stays the
 * independent decoder; this keeps it on the part of CBOR the spec uses.
 *
 * Why it is needed: cbor-x on Node hands string decoding to a native scanner
 * (cbor-extract) that walks the rest of the buffer with 32-bit positions; a
 * byte string claiming nearly 4 GiB wraps its position back into the buffer,
 * and it loops forever, synchronously, out of any timer's reach (a record
 * decoder fuzz run that hung until run-all's limit killed it). Tags, maps and
 * byte strings also reach cbor-x's extensions (shared references that re-read,
 * bundled strings that move the read position, record definitions), none of
 * which a record uses. Every step consumes a byte, so the check is linear in
 * the input and allocates one stack entry per open array.
 */

const MAJOR_UNSIGNED = 0;
const MAJOR_NEGATIVE = 1;
const MAJOR_BYTES = 2;
const MAJOR_TEXT = 3;
const MAJOR_ARRAY = 4;
const MAJOR_MAP = 5;
const MAJOR_TAG = 6;
const MAJOR_SIMPLE = 7;

/** Simple values false, true, null, undefined (20–23) and floats (25–27); the rest would be cbor-x's packed values. */
function isUsedSimple(info: number): boolean {
  return (info >= 20 && info <= 23) || (info >= 25 && info <= 27);
}

/** Why `bytes` are not one CBOR item of that subset, or undefined when they are. */
export function cborSubsetProblem(bytes: Uint8Array): string | undefined {
  const end = bytes.length;
  let at = 0;
  /** Items still to read in the innermost open array (the top level is one item). */
  let pending = 1;
  /** Items still to read in each enclosing array. */
  const enclosing: number[] = [];
  for (;;) {
    while (pending === 0) {
      if (enclosing.length === 0) return at === end ? undefined : `${end - at} bytes after the item`;
      pending = enclosing.pop()!;
    }
    if (at >= end) return "truncated (an array holds more items than the bytes do)";
    const head = bytes[at++];
    pending--;
    const major = head >> 5;
    const info = head & 0x1f;
    if (major === MAJOR_SIMPLE) {
      if (!isUsedSimple(info)) return info === 31 ? "a break code outside an indefinite length" : `simple value ${info === 24 ? `byte ${bytes[at] ?? "(missing)"}` : info} (not used)`;
      const size = info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
      if (size > end - at) return "truncated (a float needs more bytes)";
      at += size;
      continue;
    }
    if (info === 31) return "an indefinite length (only definite lengths are used)";
    if (info > 27) return `reserved additional information ${info}`;
    const size = info < 24 ? 0 : 1 << (info - 24);
    if (size > end - at) return "truncated (a head needs more bytes)";
    let argument = info < 24 ? info : 0;
    // Up to 2^64 as a double: only compared with lengths of at most `end`, where it is exact.
    for (let i = 0; i < size; i++) argument = argument * 256 + bytes[at++];
    switch (major) {
      case MAJOR_UNSIGNED:
      case MAJOR_NEGATIVE:
        break;
      case MAJOR_TEXT:
        if (argument > end - at) return `truncated (a text of ${argument} bytes, ${end - at} left)`;
        at += argument;
        break;
      case MAJOR_ARRAY:
        // Every item takes at least a byte: a longer array cannot be complete.
        if (argument > end - at) return `truncated (an array of ${argument} items, ${end - at} bytes left)`;
        enclosing.push(pending);
        pending = argument;
        break;
      case MAJOR_BYTES:
        return "a byte string (not used)";
      case MAJOR_MAP:
        return "a map (not used)";
      case MAJOR_TAG:
        return "a tag (not used)";
    }
  }
}
