/*
 * The only door between the flash log and the flash chip. It is the shape of
 * the Moddable SDK's `flash` module instance (`new Flash("xsedge-log")`), so
 * the SDK object is passed in unchanged; the simulator's NOR model and any
 * test double implement the same four members. (flash-fits.ts checks the fit
 * at compile time against @moddable/typings.)
 *
 * NOR semantics the log relies on, and that every implementation must keep:
 *
 * - The device is `byteLength` bytes in `byteLength / blockSize` erase blocks
 *   (sectors: 4,096 bytes on the ESP32's and the RP2040's SPI NOR).
 * - `erase(block)` takes a block *index*, not a byte offset, and sets every
 *   byte of that block to 0xFF. It is the only way to turn a 0 bit into a 1.
 * - `write` programs bytes, and programming can only clear bits (1 -> 0): the
 *   stored result is old AND new. The log never asks for a 0 -> 1 change; it
 *   uses this rule on purpose to clear flag bits in place (a record's
 *   "released" bit, a block's "ring starts here" bit) without an erase.
 * - Writes may be of any length (> 0) at any byte offset within a block; no
 *   page or word alignment is assumed. (SPI NOR programs by byte; flash with
 *   ECC or a "write each word once" rule, such as STM32L4 or nRF52 internal
 *   flash, does not fit this log, see SPEC.md.)
 * - Power may fail at any instant: a write may leave only a prefix of its
 *   bytes programmed and the last byte half-programmed; an erase may leave a
 *   block partly erased. The log's format is built so that every such state
 *   is recognised at mount (SPEC.md, "Recovery").
 * - `read` returns a fresh ArrayBuffer (the SDK allocates one per call; the
 *   log keeps reads few and small for that reason). The SDK can also return a
 *   HostBuffer when asked with a third argument; the log never asks.
 */

/** A result `read` may have; the log only ever receives an ArrayBuffer (see above). */
export type BlockRead = ArrayBuffer | { readonly byteLength: number };

export interface BlockDevice {
  /** Total size in bytes, a whole number of blocks. */
  readonly byteLength: number;
  /** Erase-block size in bytes. */
  readonly blockSize: number;
  /** Copies `byteLength` bytes starting at `offset` into a new ArrayBuffer. */
  read(offset: number, byteLength: number): BlockRead;
  /**
   * Programs the first `byteLength` bytes of `buffer` at `offset` (clears bits
   * only). The log always passes a whole ArrayBuffer whose data starts at byte
   * 0: older SDK ports read the argument with xsmcToArrayBuffer, which takes
   * no view offset.
   */
  write(offset: number, byteLength: number, buffer: ArrayBuffer): void;
  /** Sets every byte of block number `block` to 0xFF. */
  erase(block: number): void;
}
