/*
 * The flash log's on-flash format (SPEC.md is the byte-by-byte reference):
 * named sizes, block header and record frame encoding, the frame scanner used
 * by recovery and by readers, sequence arithmetic and record positions. Pure
 * functions over byte arrays: no device, no state.
 */
import { crc32, crc32Finish, crc32Update, CRC32_START } from "./crc32.js";

/** A record is one encoded observation; 255 bytes lets its length fit one byte. */
export const MAX_RECORD_BYTES = 255;
/** An empty record would have nothing to publish; 0 is refused rather than stored. */
export const MIN_RECORD_BYTES = 1;

/** "XSLG": tells this log's blocks from blank or foreign flash. */
export const MAGIC = 0x474c5358; // little-endian bytes 58 53 4C 47
export const FORMAT_VERSION = 1;

// Block header: magic(4) version(1) flags(1) reserved(2) seq(4) erases(4) crc(4).
export const BLOCK_HEADER_BYTES = 20;
/** Bytes covered by the header CRC (everything before it). */
export const BLOCK_HEADER_BODY_BYTES = 16;
export const BLOCK_FLAGS_OFFSET = 5;
/**
 * Cleared (0) when the block before this one (physically, in ring order) has
 * left the log: written before that block is erased, so a torn erase can never
 * bring its records back. Outside the header CRC because it changes later.
 */
export const BLOCK_FLAG_RING_START = 0x01;

// Record frame: len(1) ~len(1) flags(1) payload(len) crc(4).
export const FRAME_HEAD_BYTES = 3;
export const FRAME_CRC_BYTES = 4;
/** Framing cost of every record on flash. */
export const FRAME_OVERHEAD_BYTES = FRAME_HEAD_BYTES + FRAME_CRC_BYTES;
export const MAX_FRAME_BYTES = FRAME_OVERHEAD_BYTES + MAX_RECORD_BYTES;
export const FRAME_FLAGS_OFFSET = 2;
/**
 * Cleared (0) in the newest acknowledged record: it and every record before it
 * are released. Outside the frame CRC because it is written after the frame.
 */
export const FRAME_FLAG_RELEASED = 0x01;

/** A block must hold its header and at least one largest frame. */
export const MIN_BLOCK_BYTES = BLOCK_HEADER_BYTES + MAX_FRAME_BYTES;
/**
 * Positions are seq * blockSize + offset; with 32-bit seqs and blocks of at
 * most 64 KB they stay below 2^48, exact in a double.
 */
export const MAX_BLOCK_BYTES = 0x10000;
/** Fewer than two blocks leaves nothing to reclaim into while one is full. */
export const MIN_BLOCKS = 2;

/** "No record": returned where a position or a length would be. */
export const NONE = -1;

/** RFC 1982 serial-number comparison over 32 bits: > 0 when `a` is newer than `b`. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

export function seqNext(seq: number): number {
  return (seq + 1) >>> 0;
}

export function readU32(bytes: Uint8Array, at: number): number {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}

export function writeU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = (value >>> 8) & 0xff;
  bytes[at + 2] = (value >>> 16) & 0xff;
  bytes[at + 3] = (value >>> 24) & 0xff;
}

/** Fills `into[0..16)` with a header body (flags all 1) and returns its CRC. */
export function encodeBlockHeader(into: Uint8Array, seq: number, erases: number): number {
  writeU32(into, 0, MAGIC);
  into[4] = FORMAT_VERSION;
  into[5] = 0xff;
  into[6] = 0xff;
  into[7] = 0xff;
  writeU32(into, 8, seq);
  writeU32(into, 12, erases);
  return crc32(into, 0, BLOCK_HEADER_BODY_BYTES);
}

/** Whether `bytes[at..at+20)` is a whole header of this format; the flags byte counts as 0xFF. */
export function isBlockHeader(bytes: Uint8Array, at: number): boolean {
  if (readU32(bytes, at) !== MAGIC || bytes[at + 4] !== FORMAT_VERSION) return false;
  let crc = crc32Update(CRC32_START, bytes, at, BLOCK_FLAGS_OFFSET);
  crc = crc32Update(crc, FF, 0, 1);
  crc = crc32Update(crc, bytes, at + BLOCK_FLAGS_OFFSET + 1, BLOCK_HEADER_BODY_BYTES - BLOCK_FLAGS_OFFSET - 1);
  return crc32Finish(crc) === readU32(bytes, at + BLOCK_HEADER_BODY_BYTES);
}
const FF = new Uint8Array([0xff]);

export const headerSeq = (bytes: Uint8Array, at: number): number => readU32(bytes, at + 8);
export const headerErases = (bytes: Uint8Array, at: number): number => readU32(bytes, at + 12);

/** Fills the frame head for a `length`-byte payload already at `frame[3..]`; returns the frame CRC. */
export function encodeFrame(frame: Uint8Array, length: number): number {
  frame[0] = length;
  frame[1] = length ^ 0xff;
  frame[2] = 0xff;
  return frameCrc(frame, 0, length);
}

// The flags byte is left out: it is cleared after the CRC was written.
function frameCrc(bytes: Uint8Array, at: number, length: number): number {
  return crc32Finish(crc32Update(crc32Update(CRC32_START, bytes, at, 2), bytes, at + FRAME_HEAD_BYTES, length));
}

/** An erased frame head (0xFF 0xFF, never a valid one): where the data of a block ends. */
export function isErasedHead(bytes: Uint8Array, at: number): boolean {
  return bytes[at] === 0xff && bytes[at + 1] === 0xff;
}

/**
 * The payload length of the frame at `at` if it is whole (consistent length,
 * inside `limit`, CRC matching), else NONE.
 */
export function frameLength(bytes: Uint8Array, at: number, limit: number): number {
  if (at + FRAME_OVERHEAD_BYTES > limit) return NONE;
  const length = bytes[at];
  if ((bytes[at + 1] ^ 0xff) !== length || length < MIN_RECORD_BYTES) return NONE;
  const crcAt = at + FRAME_HEAD_BYTES + length;
  if (crcAt + FRAME_CRC_BYTES > limit) return NONE;
  return frameCrc(bytes, at, length) === readU32(bytes, crcAt) ? length : NONE;
}

/**
 * After a bad frame at `bad`: the offset of the next whole frame before
 * `limit`, or NONE when there is none (the bad frame was the block's torn
 * tail). A consistent length is trusted first; otherwise every later offset
 * is tried, since a damaged length byte tells nothing about where the next
 * frame starts. Only runs where damage was found, so its cost is rare.
 */
export function resync(bytes: Uint8Array, bad: number, limit: number): number {
  const length = bytes[bad];
  if ((bytes[bad + 1] ^ 0xff) === length) {
    const next = bad + FRAME_OVERHEAD_BYTES + length;
    if (next < limit && frameLength(bytes, next, limit) !== NONE) return next;
  }
  for (let at = bad + 1; at + FRAME_OVERHEAD_BYTES <= limit; at++) {
    if (frameLength(bytes, at, limit) !== NONE) return at;
  }
  return NONE;
}

/** Whether `bytes[from..to)` is all 0xFF (still erased, safe to program). */
export function isErased(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0xff) return false;
  return true;
}

/**
 * Whole frames in `bytes[0..target)`, stepping over damaged ones, when
 * `target` is where a frame starts; NONE when the walk does not land on it
 * (so `target` is not a record's position).
 */
export function framesBefore(bytes: Uint8Array, target: number, limit: number): number {
  let at = 0;
  let count = 0;
  while (at < target) {
    const length = frameLength(bytes, at, limit);
    if (length !== NONE) {
      count++;
      at += FRAME_OVERHEAD_BYTES + length;
      continue;
    }
    const next = resync(bytes, at, limit);
    if (next === NONE) return NONE;
    at = next;
  }
  return at === target ? count : NONE;
}
