/* The flash log's configuration and the figures it reports. */

/**
 * What append does when every block holds unreleased records:
 * "drop-oldest" erases the oldest block and counts its unreleased records as
 * dropped (fresh observations matter more than old ones);
 * "refuse-newest" keeps everything and append returns false.
 */
export type FullPolicy = "drop-oldest" | "refuse-newest";

export interface FlashLogOptions {
  /** Default "drop-oldest". */
  policy?: FullPolicy;
  /** Sequence number of the first block when mount formats a blank device (tests start near 2^32 to cross the wrap). */
  initialSequence?: number;
}

export interface FlashLogStats {
  /** Unreleased records in the log. */
  records: number;
  /** Bytes (framing included) that can be appended before the full-log policy applies. */
  bytesFree: number;
  blocks: number;
  blockSize: number;
  // Counters since this mount (RAM only; a reboot starts them at 0).
  /** Appends that returned true. */
  appended: number;
  /** Records released by release(). */
  released: number;
  /** Unreleased records erased by "drop-oldest" to make room. */
  dropped: number;
  /** Appends that returned false under "refuse-newest". */
  refused: number;
  /** Frames found at mount cut short at the end of their block (a write interrupted by power loss); not records. */
  tornDiscarded: number;
  /** Damaged frames found at mount with whole frames after them: skipped, their records lost. */
  corruptSkipped: number;
  /** Erases per block, as recorded in the block headers (SPEC.md, "Wear"). */
  eraseCounts: number[];
}
