/*
 * A NOR flash chip in RAM, for the simulator and the flash log's tests: the
 * BlockDevice of modules/storage/block-device.ts over a Uint8Array, with the
 * chip's rules enforced, wear counted per block, and a power cut that can be
 * armed to land inside the Nth write or erase from now (littlefs's emubd).
 *
 * Rules, and how the model holds the log to them:
 * - A write that would turn a 0 bit into a 1 throws (a real chip would
 *   silently store old AND new). Throwing is stricter on purpose: such a
 *   write is always a bug in the caller, and a silent AND would hide it.
 * - A write must lie inside one erase block, and an erase takes a block index
 *   in range; anything else throws RangeError. (SPI NOR would accept a write
 *   across blocks; the log never makes one, so the model refuses it.)
 * - Reads return a fresh ArrayBuffer, as the Moddable SDK's flash does.
 *
 * A power cut, once armed with cutPowerAfter(n), lets n more writes or
 * erases complete and tears the next one: a write programs only a prefix of
 * its bytes and, of the byte after, a random subset of the bits it was to
 * clear; an erase leaves the block partly erased (a random prefix or suffix
 * set to 0xFF, or random bits set throughout). That call and every call
 * after it throw PowerCut until restorePower(). Randomness comes from a
 * seeded generator, so a failing cut replays exactly.
 */
import type { BlockDevice } from "../../modules/storage/block-device.js";

export class PowerCut extends Error {
  // Defined, not assigned: the fleet's XS freezes Error.prototype, as a board's ROM does.
  override readonly name = "PowerCut";
  constructor(what: string) {
    super(`power cut during ${what}`);
  }
}

/** Which operations an armed power cut counts. */
export type CutKind = "any" | "write" | "erase";

export interface NorFlashOptions {
  blockSize: number;
  blocks: number;
  /** Seed for where inside an operation a power cut lands. */
  seed?: number;
}

export class NorFlash implements BlockDevice {
  readonly blockSize: number;
  readonly byteLength: number;
  /** Erases per block since this model was made (a torn erase counts: it wore the block). */
  readonly eraseCounts: Uint32Array;
  /** Writes and erases that completed; a workload's count tells a power-cut test how far to go. */
  operations = 0;
  readonly #bytes: Uint8Array;
  #random: () => number;
  #cutAfter = -1;
  #cutKind: CutKind = "any";
  #powered = true;

  constructor(options: NorFlashOptions, bytes?: Uint8Array) {
    const { blockSize, blocks } = options;
    if (!Number.isInteger(blockSize) || blockSize < 1) throw new RangeError(`invalid block size ${blockSize}`);
    if (!Number.isInteger(blocks) || blocks < 1) throw new RangeError(`invalid block count ${blocks}`);
    this.blockSize = blockSize;
    this.byteLength = blockSize * blocks;
    if (bytes && bytes.length !== this.byteLength) throw new RangeError(`${bytes.length} bytes is not ${blocks} blocks of ${blockSize}`);
    // A new chip reads erased; one made from bytes (a snapshot, a file) continues from them.
    // slice(), not Uint8Array.from: in XS, from() walks an iterator, 64 KB of it per boot of a fleet device.
    this.#bytes = bytes ? bytes.slice() : new Uint8Array(this.byteLength).fill(0xff);
    this.eraseCounts = new Uint32Array(blocks);
    this.#random = mulberry32(options.seed ?? 1);
  }

  /** A copy of the chip's contents, for a file-backed flash or a later `new NorFlash(options, bytes)`. */
  snapshot(): Uint8Array {
    return this.#bytes.slice();
  }

  /** A view of some of the chip's bytes, power or not: what a file behind the chip writes through, torn bytes included. */
  contents(offset: number, byteLength: number): Uint8Array {
    this.#checkRange(offset, byteLength);
    return this.#bytes.subarray(offset, offset + byteLength);
  }

  get powered(): boolean {
    return this.#powered;
  }

  /**
   * Lets `operations` more writes or erases (or only those of `kind`)
   * complete, then tears the next one.
   */
  cutPowerAfter(operations: number, seed?: number, kind: CutKind = "any"): void {
    if (!Number.isInteger(operations) || operations < 0) throw new RangeError(`invalid operation count ${operations}`);
    this.#cutAfter = operations;
    this.#cutKind = kind;
    if (seed !== undefined) this.#random = mulberry32(seed);
  }

  /** Power is back: the bytes are as the cut left them. Disarms any pending cut. */
  restorePower(): void {
    this.#powered = true;
    this.#cutAfter = -1;
  }

  /** Flips bits behind the log's back, as retention loss or a stray write would. Not a NOR operation. */
  damage(offset: number, xorMask: number): void {
    this.#checkRange(offset, 1);
    this.#bytes[offset] ^= xorMask;
  }

  read(offset: number, byteLength: number): ArrayBuffer {
    this.#checkPower("read");
    this.#checkRange(offset, byteLength);
    return this.#bytes.slice(offset, offset + byteLength).buffer;
  }

  write(offset: number, byteLength: number, buffer: ArrayBuffer | ArrayBufferView): void {
    this.#checkPower("write");
    this.#checkRange(offset, byteLength);
    if (Math.floor(offset / this.blockSize) !== Math.floor((offset + byteLength - 1) / this.blockSize))
      throw new RangeError(`write of ${byteLength} bytes at ${offset} crosses an erase-block boundary`);
    const source = ArrayBuffer.isView(buffer) ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength) : new Uint8Array(buffer);
    if (source.length < byteLength) throw new RangeError(`buffer of ${source.length} bytes is shorter than the ${byteLength} to write`);
    for (let i = 0; i < byteLength; i++) {
      const old = this.#bytes[offset + i];
      if ((old & source[i]) !== source[i])
        throw new Error(`NOR write would set bits at ${offset + i}: 0x${hex(old)} -> 0x${hex(source[i])} needs an erase`);
    }
    if (this.#tearing("write")) {
      const whole = Math.floor(this.#random() * byteLength);
      for (let i = 0; i < whole; i++) this.#bytes[offset + i] &= source[i];
      const clearing = this.#bytes[offset + whole] & ~source[whole] & 0xff;
      this.#bytes[offset + whole] &= ~(clearing & Math.floor(this.#random() * 256)) & 0xff;
      throw new PowerCut(`write of ${byteLength} bytes at ${offset}`);
    }
    for (let i = 0; i < byteLength; i++) this.#bytes[offset + i] &= source[i];
    this.operations++;
  }

  erase(block: number): void {
    this.#checkPower("erase");
    if (!Number.isInteger(block) || block < 0 || block * this.blockSize >= this.byteLength)
      throw new RangeError(`no erase block ${block}`);
    const start = block * this.blockSize;
    const end = start + this.blockSize;
    this.eraseCounts[block]++;
    if (this.#tearing("erase")) {
      const split = start + Math.floor(this.#random() * this.blockSize);
      const mode = Math.floor(this.#random() * 3);
      if (mode === 0) this.#bytes.fill(0xff, start, split);
      else if (mode === 1) this.#bytes.fill(0xff, split, end);
      else for (let i = start; i < end; i++) if (this.#random() < 0.5) this.#bytes[i] |= Math.floor(this.#random() * 256);
      throw new PowerCut(`erase of block ${block}`);
    }
    this.#bytes.fill(0xff, start, end);
    this.operations++;
  }

  // True when this operation is the one the armed cut lands in.
  #tearing(kind: "write" | "erase"): boolean {
    if (this.#cutAfter < 0 || (this.#cutKind !== "any" && this.#cutKind !== kind)) return false;
    if (this.#cutAfter > 0) {
      this.#cutAfter--;
      return false;
    }
    this.#cutAfter = -1;
    this.#powered = false;
    return true;
  }

  #checkPower(what: string): void {
    if (!this.#powered) throw new PowerCut(`${what} (power is off)`);
  }

  #checkRange(offset: number, byteLength: number): void {
    if (!Number.isInteger(offset) || !Number.isInteger(byteLength) || offset < 0 || byteLength < 1 || offset + byteLength > this.byteLength)
      throw new RangeError(`${byteLength} bytes at ${offset} outside the ${this.byteLength}-byte flash`);
  }
}

const hex = (byte: number): string => byte.toString(16).padStart(2, "0");

// A small seeded PRNG (mulberry32): reproducible cuts without a dependency.
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
