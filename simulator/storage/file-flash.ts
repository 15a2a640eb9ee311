/*
 * A simulated device's flash partition kept in a file, for the
 * one-worker-per-device engine: the NOR model holds the rules, and every
 * write or erase is written through to the file (flash-image.ts), torn ones
 * included: what a power cut left is what the next boot finds, as on a
 * board after a power cycle. Wear is kept beside it and adds up across runs.
 */
import { FlashImage } from "./flash-image.js";
import { NorFlash, type NorFlashOptions } from "./nor-flash.js";
import type { BlockDevice } from "../../modules/storage/block-device.js";

export class FileFlash implements BlockDevice {
  readonly chip: NorFlash;
  readonly image: FlashImage;

  constructor(path: string, options: NorFlashOptions) {
    this.image = new FlashImage(options, path);
    this.chip = new NorFlash(options, this.image.bytes);
    this.chip.eraseCounts.set(this.image.eraseCounts);
  }

  get path(): string {
    return this.image.path!;
  }

  get byteLength(): number {
    return this.chip.byteLength;
  }

  get blockSize(): number {
    return this.chip.blockSize;
  }

  /** Erases per block, across every run that used this file. */
  get eraseCounts(): Uint32Array {
    return this.chip.eraseCounts;
  }

  read(offset: number, byteLength: number): ArrayBuffer {
    return this.chip.read(offset, byteLength) as ArrayBuffer;
  }

  write(offset: number, byteLength: number, buffer: ArrayBuffer): void {
    try {
      this.chip.write(offset, byteLength, buffer);
    } finally {
      if (inRange(this.chip, offset, byteLength)) this.image.apply(offset, this.chip.contents(offset, byteLength));
    }
  }

  erase(block: number): void {
    try {
      this.chip.erase(block);
    } finally {
      if (inRange(this.chip, block * this.chip.blockSize, this.chip.blockSize)) {
        this.image.erased(block, this.chip.eraseCounts[block], this.chip.contents(block * this.chip.blockSize, this.chip.blockSize));
      }
    }
  }

  close(): void {
    this.image.close();
  }
}

// A range the chip refused (out of bounds) changed nothing to write through.
function inRange(chip: NorFlash, offset: number, byteLength: number): boolean {
  return Number.isInteger(offset) && Number.isInteger(byteLength) && offset >= 0 && byteLength > 0 && offset + byteLength <= chip.byteLength;
}
