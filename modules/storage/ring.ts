/*
 * What the flash log knows in RAM about the flash, rebuilt by every mount:
 * per-block arrays sized once from the geometry (about 14 bytes per block),
 * the ring's extent, and where the oldest unreleased record is. No record
 * contents and no per-record index, so RAM does not grow with the log.
 *
 * The ring is physically contiguous: `size` blocks ending at `head`, each
 * with the sequence number of the one before it plus one. Blocks outside it
 * are free (erased when the head next needs them).
 */
import { BLOCK_HEADER_BYTES, seqDiff } from "./layout.js";

export class Ring {
  readonly blocks: number;
  readonly blockSize: number;
  /** Sequence number in each ring block's header. */
  readonly seq: Uint32Array;
  /** Erase count per block: from its header, or estimated (SPEC.md, "Wear"). */
  readonly erases: Uint32Array;
  /** Whole records in each ring block, released or not. */
  readonly records: Uint16Array;
  /** Offset, within its block, just past each ring block's last whole record. */
  readonly end: Uint32Array;

  tail = 0;
  head = 0;
  size = 0;
  /** The head cannot take more frames: it ends in a torn or damaged frame. */
  headSealed = false;

  /** Block and offset of the oldest unreleased record (or where the next one will go). */
  firstBlock = 0;
  firstOffset = BLOCK_HEADER_BYTES;
  /** Whole records in firstBlock before firstOffset (all released). */
  firstSkipped = 0;
  unreleased = 0;

  constructor(blocks: number, blockSize: number) {
    this.blocks = blocks;
    this.blockSize = blockSize;
    this.seq = new Uint32Array(blocks);
    this.erases = new Uint32Array(blocks);
    this.records = new Uint16Array(blocks);
    this.end = new Uint32Array(blocks);
  }

  nextBlock(block: number): number {
    return block + 1 === this.blocks ? 0 : block + 1;
  }

  /** The ring block carrying sequence number `seq`, or -1 when it is not in the ring. */
  blockOf(seq: number): number {
    const d = seqDiff(seq, this.seq[this.tail]);
    if (d < 0 || d >= this.size) return -1;
    return (this.tail + d) % this.blocks;
  }

  /** Blocks from `from` to the head, both included, walking forward. */
  spanToHead(from: number): number {
    return ((this.head - from + this.blocks) % this.blocks) + 1;
  }

  /** Moves the first-unreleased mark off blocks with nothing left to read. */
  settleFirst(): void {
    while (this.firstOffset >= this.end[this.firstBlock] && this.firstBlock !== this.head) {
      this.firstBlock = this.nextBlock(this.firstBlock);
      this.firstOffset = BLOCK_HEADER_BYTES;
      this.firstSkipped = 0;
    }
  }

  /** Whether (seq, offset) lies before the oldest unreleased record. */
  beforeFirst(seq: number, offset: number): boolean {
    const d = seqDiff(seq, this.seq[this.firstBlock]);
    return d < 0 || (d === 0 && offset < this.firstOffset);
  }
}
