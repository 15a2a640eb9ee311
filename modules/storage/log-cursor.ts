/*
 * Reading the log oldest first without allocating per record beyond the
 * device's own read: a cursor is two numbers and a position, and each record
 * is copied into a buffer the caller allocated once.
 */
import { BLOCK_HEADER_BYTES, FRAME_HEAD_BYTES, FRAME_OVERHEAD_BYTES, MAX_FRAME_BYTES, NONE, frameLength, resync, seqNext } from "./layout.js";
import type { LogDevice } from "./log-device.js";
import type { Ring } from "./ring.js";

/** Where a reader is; get one with `log.cursor()` at startup and reuse it. */
export class LogCursor {
  /** Position of the record `next` last returned (NONE before the first). Pass it to `release`. */
  position = NONE;
  /** Block sequence number and in-block offset of the next frame to read. */
  seq = 0;
  offset = 0;
}

export function rewind(ring: Ring, cursor: LogCursor): void {
  cursor.seq = ring.seq[ring.firstBlock];
  cursor.offset = ring.firstOffset;
  cursor.position = NONE;
}

export function readNext(device: LogDevice, ring: Ring, cursor: LogCursor, into: Uint8Array): number {
  for (;;) {
    let block = ring.blockOf(cursor.seq);
    if (block < 0 || ring.beforeFirst(cursor.seq, cursor.offset)) {
      // Left behind by a release or a drop: carry on from the oldest unreleased record.
      block = ring.firstBlock;
      cursor.seq = ring.seq[block];
      cursor.offset = ring.firstOffset;
    }
    const end = ring.end[block];
    if (cursor.offset >= end) {
      if (block === ring.head) return NONE;
      cursor.seq = seqNext(cursor.seq);
      cursor.offset = BLOCK_HEADER_BYTES;
      continue;
    }
    const at = block * ring.blockSize + cursor.offset;
    const span = Math.min(MAX_FRAME_BYTES, end - cursor.offset);
    const bytes = device.read(at, span);
    const length = frameLength(bytes, 0, span);
    if (length === NONE) {
      // Damaged: found (and counted) at mount, or since. Go to the next whole frame.
      const rest = device.read(at, end - cursor.offset);
      const skip = resync(rest, 0, rest.length);
      cursor.offset = skip === NONE ? end : cursor.offset + skip;
      continue;
    }
    if (into.length < length) throw new RangeError(`record of ${length} bytes does not fit a ${into.length}-byte buffer`);
    for (let i = 0; i < length; i++) into[i] = bytes[FRAME_HEAD_BYTES + i];
    cursor.position = cursor.seq * ring.blockSize + cursor.offset;
    cursor.offset += FRAME_OVERHEAD_BYTES + length;
    return length;
  }
}
