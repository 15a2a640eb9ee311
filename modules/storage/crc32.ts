/*
 * CRC-32 as in IEEE 802.3 (zlib, PNG): reflected, polynomial 0xEDB88320,
 * initial value and final XOR 0xFFFFFFFF. Check value: crc32("123456789") =
 * 0xCBF43926.
 *
 * The table costs 1 KB of RAM, built once on first use rather than at module
 * load, so a device that never opens the log never pays for it. Bytewise
 * table lookup is the usual trade on a microcontroller: 8x fewer steps than
 * the bitwise loop, 16x less RAM than slicing-by-8.
 */
const POLYNOMIAL = 0xedb88320;
const INITIAL = 0xffffffff;

let table: Uint32Array | undefined;

function buildTable(): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? POLYNOMIAL ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}

/**
 * Feeds `length` bytes of `bytes` from `start` into a running CRC. Start with
 * CRC32_START and finish with crc32Finish, so a frame made of separate
 * pieces (a header and a payload) is checked without copying it together.
 */
export function crc32Update(crc: number, bytes: Uint8Array, start: number, length: number): number {
  const t = (table ??= buildTable());
  let c = crc;
  for (let i = start, end = start + length; i < end; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return c;
}

export const CRC32_START = INITIAL;

export function crc32Finish(crc: number): number {
  return (crc ^ INITIAL) >>> 0;
}

/** CRC-32 of `length` bytes of `bytes` from `start` (the whole array by default). */
export function crc32(bytes: Uint8Array, start = 0, length = bytes.length - start): number {
  return crc32Finish(crc32Update(CRC32_START, bytes, start, length));
}
