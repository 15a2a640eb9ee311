/*
 * Mount-time recovery: rebuild the Ring from nothing but the bytes on flash,
 * whatever instant power was lost at (SPEC.md, "Recovery"). Reads each block
 * header, then each ring block whole, once; touches flash only to format a
 * device that holds no block of this log.
 */
import {
  BLOCK_FLAGS_OFFSET, BLOCK_FLAG_RING_START, BLOCK_HEADER_BYTES, FRAME_FLAGS_OFFSET, FRAME_FLAG_RELEASED, FRAME_OVERHEAD_BYTES,
  NONE, frameLength, headerErases, headerSeq, isBlockHeader, isErased, isErasedHead, resync, seqDiff,
} from "./layout.js";
import type { LogDevice } from "./log-device.js";
import type { Ring } from "./ring.js";

export interface RecoveryCounts {
  /** Frames that were the last thing in their block and not whole: a write cut short. */
  torn: number;
  /** Damaged frames with whole frames after them in the same block: skipped. */
  corrupt: number;
  /** True when no block of this log was found: the caller formats block 0. */
  blank: boolean;
}

export function recover(device: LogDevice, ring: Ring, counts: RecoveryCounts): void {
  const n = ring.blocks;
  const size = ring.blockSize;
  // Mount-time scratch, garbage once mount returns.
  const valid = new Uint8Array(n);
  const flags = new Uint8Array(n);
  let newest = -1;
  let maxErases = 0;
  for (let b = 0; b < n; b++) {
    const header = device.read(b * size, BLOCK_HEADER_BYTES);
    if (!isBlockHeader(header, 0)) continue;
    valid[b] = 1;
    flags[b] = header[BLOCK_FLAGS_OFFSET];
    ring.seq[b] = headerSeq(header, 0);
    ring.erases[b] = headerErases(header, 0);
    if (ring.erases[b] > maxErases) maxErases = ring.erases[b];
    // Every valid header was written by this log within the last lap of the
    // ring, so all their sequence numbers sit in a window far narrower than
    // 2^31 and serial comparison against the running newest is consistent.
    if (newest < 0 || seqDiff(ring.seq[b], ring.seq[newest]) > 0) newest = b;
  }
  // A block whose header is gone (blank, torn erase, torn header) has lost
  // its erase count; assume the worst seen, so wear figures never flatter.
  for (let b = 0; b < n; b++) if (!valid[b]) ring.erases[b] = maxErases;
  counts.blank = newest < 0;
  if (counts.blank) return;

  ring.head = newest;
  ring.tail = newest;
  ring.size = 1;
  for (let dist = 1; dist < n; dist++) {
    if ((flags[ring.tail] & BLOCK_FLAG_RING_START) === 0) break;
    const before = (newest - dist + n) % n;
    if (!valid[before] || ring.seq[before] !== ((ring.seq[newest] - dist) >>> 0)) break;
    ring.tail = before;
    ring.size++;
  }

  // Walk every ring block oldest first; the newest record with its released
  // bit clear marks the end of what the uplink has had acknowledged.
  let releaseBlock = -1;
  let releaseEnd = 0;
  let releaseIndex = 0;
  let total = 0;
  let totalAtRelease = 0;
  for (let i = 0, b = ring.tail; i < ring.size; i++, b = ring.nextBlock(b)) {
    const bytes = device.read(b * size, size);
    let at = BLOCK_HEADER_BYTES;
    let last = at;
    let records = 0;
    let damagedTail = false;
    while (at + FRAME_OVERHEAD_BYTES <= size) {
      // Erased from here on: the end of the data. An erased-looking head with
      // data after it is a damaged frame (retention loss turns 0s into 1s).
      if (isErasedHead(bytes, at) && isErased(bytes, at, size)) break;
      const length = frameLength(bytes, at, size);
      if (length !== NONE) {
        const released = (bytes[at + FRAME_FLAGS_OFFSET] & FRAME_FLAG_RELEASED) === 0;
        records++;
        total++;
        at += FRAME_OVERHEAD_BYTES + length;
        last = at;
        if (released) {
          releaseBlock = b;
          releaseEnd = at;
          releaseIndex = records;
          totalAtRelease = total;
        }
        continue;
      }
      const next = resync(bytes, at, size);
      if (next === NONE) {
        counts.torn++;
        damagedTail = true;
        break;
      }
      counts.corrupt++;
      at = next;
    }
    ring.records[b] = records;
    ring.end[b] = last;
    // Appending after anything but erased bytes could try to set a 0 bit.
    if (b === ring.head) ring.headSealed = damagedTail || !isErased(bytes, last, size);
  }

  if (releaseBlock < 0) {
    ring.firstBlock = ring.tail;
    ring.firstOffset = BLOCK_HEADER_BYTES;
    ring.firstSkipped = 0;
    ring.unreleased = total;
  } else {
    ring.firstBlock = releaseBlock;
    ring.firstOffset = releaseEnd;
    ring.firstSkipped = releaseIndex;
    ring.unreleased = total - totalAtRelease;
  }
  ring.settleFirst();
}
