/*
 * FlashLog: an append-only ring of records over NOR flash that survives power
 * loss at any instant, for store-and-forward of observation records.
 *
 *   const log = FlashLog.mount(new Flash("xsedge-log"), { policy: "drop-oldest" });
 *   log.append(record);                        // durable when it returns true
 *   const cursor = log.cursor();               // once, at startup
 *   const buffer = new Uint8Array(MAX_RECORD_BYTES);
 *   log.rewind(cursor);                        // back to the oldest unreleased record
 *   for (let n = 0, length; n < 8 && (length = log.next(cursor, buffer)) !== NONE; n++)
 *     publish(buffer, length, cursor.position); // QoS 1, remember the position
 *   log.release(positionOfAckedRecord);        // on PUBACK: it and everything older leave the log
 *
 * Records are released strictly oldest first, matching a QoS 1 uplink that
 * sends in order. Every method runs to completion in one turn (XS is single
 * threaded). If the device throws (power is going, or a flash fault) the log
 * refuses further use: its RAM view may no longer match flash, and mounting
 * again is the only way to learn what flash holds.
 *
 * Format, recovery and wear rules: SPEC.md in this folder.
 */
import type { BlockDevice } from "./block-device.js";
import {
  BLOCK_FLAGS_OFFSET, BLOCK_FLAG_RING_START, BLOCK_HEADER_BODY_BYTES, BLOCK_HEADER_BYTES, FRAME_CRC_BYTES, FRAME_FLAGS_OFFSET,
  FRAME_FLAG_RELEASED, FRAME_HEAD_BYTES, FRAME_OVERHEAD_BYTES, MAX_BLOCK_BYTES, MAX_FRAME_BYTES, MAX_RECORD_BYTES, MIN_BLOCKS,
  MIN_BLOCK_BYTES, MIN_RECORD_BYTES, NONE, encodeBlockHeader, encodeFrame, frameLength, framesBefore, seqNext, writeU32,
} from "./layout.js";
import { LogCursor, readNext, rewind } from "./log-cursor.js";
import type { FlashLogOptions, FlashLogStats, FullPolicy } from "./log-options.js";
import { LogDevice } from "./log-device.js";
import { recover, type RecoveryCounts } from "./recovery.js";
import { Ring } from "./ring.js";

export { MAX_RECORD_BYTES, NONE } from "./layout.js";
export { LogCursor } from "./log-cursor.js";
export type { FlashLogOptions, FlashLogStats, FullPolicy } from "./log-options.js";

export class FlashLog {
  readonly policy: FullPolicy;
  readonly #device: LogDevice;
  readonly #ring: Ring;
  readonly #initialSequence: number;
  // Write buffers, allocated once: each is a whole ArrayBuffer written from byte 0 (block-device.ts).
  readonly #frameBuffer = new ArrayBuffer(FRAME_HEAD_BYTES + MAX_RECORD_BYTES);
  readonly #frame = new Uint8Array(this.#frameBuffer);
  readonly #headerBuffer = new ArrayBuffer(BLOCK_HEADER_BODY_BYTES);
  readonly #header = new Uint8Array(this.#headerBuffer);
  readonly #crcBuffer = new ArrayBuffer(FRAME_CRC_BYTES);
  readonly #crc = new Uint8Array(this.#crcBuffer);
  readonly #flagBuffer = new ArrayBuffer(1);
  readonly #flag = new Uint8Array(this.#flagBuffer);

  // Counters since mount, reported by stats().
  #appended = 0;
  #released = 0;
  #dropped = 0;
  #refused = 0;
  #torn = 0;
  #corrupt = 0;

  private constructor(device: BlockDevice, options: FlashLogOptions) {
    const { blockSize, byteLength } = device;
    if (!Number.isInteger(blockSize) || blockSize < MIN_BLOCK_BYTES || blockSize > MAX_BLOCK_BYTES)
      throw new RangeError(`flash block size ${blockSize} outside ${MIN_BLOCK_BYTES}..${MAX_BLOCK_BYTES}`);
    if (!Number.isInteger(byteLength) || byteLength % blockSize !== 0 || byteLength / blockSize < MIN_BLOCKS)
      throw new RangeError(`flash of ${byteLength} bytes is not at least ${MIN_BLOCKS} whole blocks of ${blockSize}`);
    const policy = options.policy ?? "drop-oldest";
    if (policy !== "drop-oldest" && policy !== "refuse-newest") throw new RangeError(`unknown full-log policy ${String(policy)}`);
    const initial = options.initialSequence ?? 0;
    if (!Number.isInteger(initial) || initial < 0 || initial > 0xffffffff) throw new RangeError(`invalid initial sequence ${initial}`);
    this.policy = policy;
    this.#device = new LogDevice(device);
    this.#initialSequence = initial;
    this.#ring = new Ring(byteLength / blockSize, blockSize);
  }

  /** Recovers the log from flash, formatting it if no block of it is found. Never fails on damaged data. */
  static mount(device: BlockDevice, options: FlashLogOptions = {}): FlashLog {
    const log = new FlashLog(device, options);
    log.#mount();
    return log;
  }

  #mount(): void {
    const counts: RecoveryCounts = { torn: 0, corrupt: 0, blank: false };
    recover(this.#device, this.#ring, counts);
    this.#torn = counts.torn;
    this.#corrupt = counts.corrupt;
    if (!counts.blank) return;
    // Nothing of this log on flash: start the ring in block 0. The other
    // blocks are erased one by one as the head reaches them.
    const ring = this.#ring;
    this.#open(0, this.#initialSequence);
    ring.head = ring.tail = 0;
    ring.size = 1;
    ring.end[0] = BLOCK_HEADER_BYTES;
    ring.records[0] = 0;
    ring.headSealed = false;
    ring.firstBlock = 0;
    ring.firstOffset = BLOCK_HEADER_BYTES;
    ring.firstSkipped = 0;
    ring.unreleased = 0;
  }

  /** Unreleased records. */
  get records(): number {
    return this.#ring.unreleased;
  }

  get bytesFree(): number {
    const ring = this.#ring;
    const busy = ring.unreleased > 0 ? ring.spanToHead(ring.firstBlock) : 1;
    const head = ring.headSealed ? 0 : ring.blockSize - ring.end[ring.head];
    return head + (ring.blocks - busy) * (ring.blockSize - BLOCK_HEADER_BYTES);
  }

  get blockCount(): number {
    return this.#ring.blocks;
  }

  eraseCount(block: number): number {
    if (!Number.isInteger(block) || block < 0 || block >= this.#ring.blocks) throw new RangeError(`no block ${block}`);
    return this.#ring.erases[block];
  }

  stats(): FlashLogStats {
    const ring = this.#ring;
    return {
      records: ring.unreleased, bytesFree: this.bytesFree, blocks: ring.blocks, blockSize: ring.blockSize,
      appended: this.#appended, released: this.#released, dropped: this.#dropped, refused: this.#refused,
      tornDiscarded: this.#torn, corruptSkipped: this.#corrupt, eraseCounts: Array.from(ring.erases),
    };
  }

  /**
   * Stores `record[0..length)` (1..MAX_RECORD_BYTES bytes). Returns true once
   * it is on flash in full, false when the log is full and the policy is
   * "refuse-newest". Two writes: head and payload, then the CRC, so a cut
   * between them leaves a frame that fails its check.
   */
  append(record: Uint8Array, length = record.length): boolean {
    if (!Number.isInteger(length) || length < MIN_RECORD_BYTES || length > MAX_RECORD_BYTES || length > record.length)
      throw new RangeError(`record length ${length} outside ${MIN_RECORD_BYTES}..${MAX_RECORD_BYTES}`);
    this.#device.check();
    const ring = this.#ring;
    const frameBytes = FRAME_OVERHEAD_BYTES + length;
    if ((ring.headSealed || ring.end[ring.head] + frameBytes > ring.blockSize) && !this.#advance()) {
      this.#refused++;
      return false;
    }
    const frame = this.#frame;
    for (let i = 0; i < length; i++) frame[FRAME_HEAD_BYTES + i] = record[i];
    writeU32(this.#crc, 0, encodeFrame(frame, length));
    const at = ring.head * ring.blockSize + ring.end[ring.head];
    this.#device.write(at, FRAME_HEAD_BYTES + length, this.#frameBuffer);
    this.#device.write(at + FRAME_HEAD_BYTES + length, FRAME_CRC_BYTES, this.#crcBuffer);
    if (ring.unreleased === 0) {
      ring.firstBlock = ring.head;
      ring.firstOffset = ring.end[ring.head];
      ring.firstSkipped = ring.records[ring.head];
    }
    ring.end[ring.head] += frameBytes;
    ring.records[ring.head]++;
    ring.unreleased++;
    this.#appended++;
    return true;
  }

  /** A reader over the unreleased records, at the oldest. Allocate once and reuse. */
  cursor(): LogCursor {
    const cursor = new LogCursor();
    rewind(this.#ring, cursor);
    return cursor;
  }

  /** Points `cursor` back at the oldest unreleased record (after a reconnect, to resend what was not acknowledged). */
  rewind(cursor: LogCursor): void {
    rewind(this.#ring, cursor);
  }

  /**
   * Copies the record at `cursor` into `into` (MAX_RECORD_BYTES long, or at
   * least as long as the record), advances the cursor, sets
   * `cursor.position`, and returns the record's length; NONE when there is
   * no newer record. A cursor left behind by a release or a drop continues
   * from the oldest unreleased record. One flash read per record.
   */
  next(cursor: LogCursor, into: Uint8Array): number {
    this.#device.check();
    return readNext(this.#device, this.#ring, cursor, into);
  }

  /**
   * Releases the record at `position` (from `cursor.position`) and every
   * older one; returns how many left the log. 0 when they had already been
   * released or dropped, so a repeated acknowledgement is harmless. Throws
   * RangeError for a position that is not a record in the log.
   *
   * Acknowledgement lives in the records themselves: release clears one bit
   * in the flags byte of the newest released record, a NOR-legal write (bits
   * only cleared) that takes no log space, where appended release markers
   * would each cost a frame and their own torn-write cases. As releases are
   * FIFO, that one mark covers every older record too, so a release costs one
   * 1-byte write however many records it covers: at most one write per
   * record (exactly one when the uplink acknowledges records one by one).
   * It reads the span from the oldest unreleased record to `position` to
   * count and check it (one frame's worth when acknowledging one by one).
   */
  release(position: number): number {
    const ring = this.#ring;
    if (!Number.isInteger(position) || position < 0) throw new RangeError(`invalid log position ${position}`);
    this.#device.check();
    const offset = position % ring.blockSize;
    const seq = (position - offset) / ring.blockSize;
    if (seq > 0xffffffff) throw new RangeError(`invalid log position ${position}`);
    const block = ring.blockOf(seq);
    if (block < 0) {
      // Older than the ring: its block was reclaimed or dropped. Newer: never written.
      if (ring.size > 0 && ((seq - ring.seq[ring.tail]) | 0) < 0) return 0;
      throw new RangeError(`log position ${position} is newer than the log`);
    }
    if (ring.beforeFirst(seq, offset)) return 0;
    if (offset >= ring.end[block]) throw new RangeError(`log position ${position} is not a record`);

    let count = 0;
    let from = ring.firstOffset;
    let skipped = ring.firstSkipped;
    for (let b = ring.firstBlock; b !== block; b = ring.nextBlock(b)) {
      count += ring.records[b] - skipped;
      from = BLOCK_HEADER_BYTES;
      skipped = 0;
    }
    const span = Math.min(ring.end[block], offset + MAX_FRAME_BYTES) - from;
    const bytes = this.#device.read(block * ring.blockSize + from, span);
    const at = offset - from;
    const before = framesBefore(bytes, at, span);
    const length = before === NONE ? NONE : frameLength(bytes, at, span);
    if (length === NONE) throw new RangeError(`log position ${position} is not a record`);

    const flags = bytes[at + FRAME_FLAGS_OFFSET];
    if ((flags & FRAME_FLAG_RELEASED) !== 0) this.#clearBits(block * ring.blockSize + offset + FRAME_FLAGS_OFFSET, flags, FRAME_FLAG_RELEASED);
    count += before + 1;
    ring.firstBlock = block;
    ring.firstOffset = offset + FRAME_OVERHEAD_BYTES + length;
    ring.firstSkipped = skipped + before + 1;
    ring.unreleased -= count;
    ring.settleFirst();
    this.#released += count;
    return count;
  }

  /** Makes room for a new head block; false when the policy refuses to drop unreleased records. */
  #advance(): boolean {
    const ring = this.#ring;
    const next = ring.nextBlock(ring.head);
    const seq = seqNext(ring.seq[ring.head]);
    if (ring.size < ring.blocks) {
      this.#open(next, seq);
      ring.size++;
    } else {
      const tail = ring.tail;
      const lost = ring.unreleased > 0 && ring.firstBlock === tail ? ring.records[tail] - ring.firstSkipped : 0;
      if (lost > 0 && this.policy === "refuse-newest") return false;
      // Say on flash that the tail has left the log before erasing it: a torn
      // erase may leave its header and some records readable, and without
      // this mark the next mount would take them back.
      const successor = ring.nextBlock(tail);
      const at = successor * ring.blockSize + BLOCK_FLAGS_OFFSET;
      const flags = this.#device.read(at, 1)[0];
      if ((flags & BLOCK_FLAG_RING_START) !== 0) this.#clearBits(at, flags, BLOCK_FLAG_RING_START);
      this.#open(tail, seq);
      ring.tail = successor;
      if (lost > 0) {
        this.#dropped += lost;
        ring.unreleased -= lost;
        ring.firstBlock = successor;
        ring.firstOffset = BLOCK_HEADER_BYTES;
        ring.firstSkipped = 0;
      }
    }
    ring.head = next;
    ring.end[next] = BLOCK_HEADER_BYTES;
    ring.records[next] = 0;
    ring.headSealed = false;
    ring.settleFirst();
    return true;
  }

  /** Erases `block` and writes its header with sequence number `seq`; CRC last. */
  #open(block: number, seq: number): void {
    const ring = this.#ring;
    const erases = Math.min(ring.erases[block] + 1, 0xffffffff);
    writeU32(this.#crc, 0, encodeBlockHeader(this.#header, seq, erases));
    const at = block * ring.blockSize;
    this.#device.erase(block);
    this.#device.write(at, BLOCK_HEADER_BODY_BYTES, this.#headerBuffer);
    this.#device.write(at + BLOCK_HEADER_BODY_BYTES, FRAME_CRC_BYTES, this.#crcBuffer);
    ring.seq[block] = seq;
    ring.erases[block] = erases;
  }

  // Programs `current` minus `bits`: never asks the flash to set a bit, even
  // where an earlier cut left the byte half-programmed.
  #clearBits(at: number, current: number, bits: number): void {
    this.#flag[0] = current & ~bits;
    this.#device.write(at, 1, this.#flagBuffer);
  }
}
