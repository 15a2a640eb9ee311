/*
 * A simulated device's flash partition kept in a file: the NOR model holds
 * the rules, and every completed write or erase is written through to the
 * file, so the flash log a simulated device leaves behind is there at its
 * next boot, as a board's is after a power cycle.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { NorFlash, type NorFlashOptions } from "./nor-flash.js";
import type { BlockDevice } from "../../modules/storage/block-device.js";

export class FileFlash implements BlockDevice {
  readonly chip: NorFlash;
  readonly #fd: number;

  constructor(path: string, options: NorFlashOptions) {
    mkdirSync(dirname(path), { recursive: true });
    const byteLength = options.blockSize * options.blocks;
    let bytes: Uint8Array | undefined;
    if (existsSync(path)) {
      bytes = readFileSync(path);
      if (bytes.byteLength !== byteLength) throw new Error(`${path}: ${bytes.byteLength} bytes, expected a ${byteLength}-byte partition`);
    }
    this.chip = new NorFlash(options, bytes);
    this.#fd = openSync(path, existsSync(path) ? "r+" : "w+");
    if (!bytes) writeSync(this.#fd, this.chip.snapshot(), 0, byteLength, 0);
  }

  get byteLength(): number {
    return this.chip.byteLength;
  }

  get blockSize(): number {
    return this.chip.blockSize;
  }

  read(offset: number, byteLength: number): ArrayBuffer {
    return this.chip.read(offset, byteLength) as ArrayBuffer;
  }

  write(offset: number, byteLength: number, buffer: ArrayBuffer): void {
    this.chip.write(offset, byteLength, buffer);
    writeSync(this.#fd, new Uint8Array(this.chip.read(offset, byteLength)), 0, byteLength, offset);
  }

  erase(block: number): void {
    this.chip.erase(block);
    const offset = block * this.chip.blockSize;
    writeSync(this.#fd, new Uint8Array(this.chip.read(offset, this.chip.blockSize)), 0, this.chip.blockSize, offset);
  }

  close(): void {
    closeSync(this.#fd);
  }
}
