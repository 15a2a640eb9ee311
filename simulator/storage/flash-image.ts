/*
 * A simulated device's flash partition as bytes and wear, kept in a file so
 * it survives a simulator restart: `<file>` holds the partition's bytes and
 * `<file>.wear` the erase count of each block (one little-endian u32 per
 * block), so wear adds up across runs. No NOR rules here: this is what the
 * chip holds, written by whoever enforces them (file-flash.ts's NOR model
 * on the host, or a fleet worker's, whose every change is mirrored here).
 *
 * Files are opened as they are written, through a small cache shared by
 * every partition: ten thousand devices, each with a socket, must stay under
 * the process's file limit.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/** Flash files held open at once across all devices. */
export const MAX_OPEN_FLASH_FILES = 256;

const openFiles = new Map<string, number>();

function descriptor(path: string): number {
  const fd = openFiles.get(path);
  if (fd !== undefined) {
    // Most recently used last: the first entry is the one to close.
    openFiles.delete(path);
    openFiles.set(path, fd);
    return fd;
  }
  const opened = openSync(path, "r+");
  openFiles.set(path, opened);
  if (openFiles.size > MAX_OPEN_FLASH_FILES) {
    const [oldest, oldFd] = openFiles.entries().next().value!;
    openFiles.delete(oldest);
    closeSync(oldFd);
  }
  return opened;
}

function forget(path: string): void {
  const fd = openFiles.get(path);
  if (fd === undefined) return;
  openFiles.delete(path);
  closeSync(fd);
}

export interface FlashGeometry {
  blockSize: number;
  blocks: number;
}

export class FlashImage {
  readonly blockSize: number;
  readonly blocks: number;
  /** The partition's bytes: erased (0xFF) when new. */
  readonly bytes: Uint8Array;
  /** Erases per block since the partition was new (a torn erase counts: it wore the block). */
  readonly eraseCounts: Uint32Array;
  /** Writes and erases mirrored since this image was opened: readers cache on it. */
  changes = 0;
  readonly path: string | undefined;
  readonly #wearPath: string | undefined;
  readonly #word = new Uint8Array(4);

  /** With a path, the image is read from (or created at) it and every change written through; without, it lives in memory. */
  constructor(geometry: FlashGeometry, path?: string) {
    const { blockSize, blocks } = geometry;
    if (!Number.isInteger(blockSize) || blockSize < 1 || !Number.isInteger(blocks) || blocks < 1) throw new RangeError(`invalid flash geometry ${blocks} × ${blockSize}`);
    this.blockSize = blockSize;
    this.blocks = blocks;
    this.path = path;
    this.#wearPath = path ? `${path}.wear` : undefined;
    const byteLength = blockSize * blocks;
    this.bytes = new Uint8Array(byteLength).fill(0xff);
    this.eraseCounts = new Uint32Array(blocks);
    if (!path) return;
    mkdirSync(dirname(path), { recursive: true });
    if (existsSync(path)) {
      const stored = readFileSync(path);
      if (stored.byteLength !== byteLength) throw new Error(`${path}: ${stored.byteLength} bytes, expected a ${byteLength}-byte partition`);
      this.bytes.set(stored);
    } else this.#create(path, this.bytes);
    if (existsSync(this.#wearPath!)) {
      const wear = readFileSync(this.#wearPath!);
      const view = new DataView(wear.buffer, wear.byteOffset, wear.byteLength);
      for (let b = 0; b < blocks && 4 * b + 4 <= wear.byteLength; b++) this.eraseCounts[b] = view.getUint32(4 * b, true);
    } else this.#create(this.#wearPath!, new Uint8Array(4 * blocks));
  }

  get byteLength(): number {
    return this.bytes.byteLength;
  }

  /** The chip's bytes at `offset` are now `data` (a write, torn or whole). */
  apply(offset: number, data: Uint8Array): void {
    if (!(offset >= 0 && offset + data.byteLength <= this.bytes.byteLength)) throw new RangeError(`${data.byteLength} bytes at ${offset} outside the ${this.bytes.byteLength}-byte flash`);
    this.bytes.set(data, offset);
    this.changes++;
    if (this.path && data.byteLength > 0) writeSync(descriptor(this.path), data, 0, data.byteLength, offset);
  }

  /** Block `block` was erased (`data`: what it holds now, all 0xFF unless the erase was torn); its count is `count`. */
  erased(block: number, count: number, data: Uint8Array): void {
    this.apply(block * this.blockSize, data);
    this.eraseCounts[block] = count;
    if (!this.#wearPath) return;
    new DataView(this.#word.buffer).setUint32(0, count, true);
    writeSync(descriptor(this.#wearPath), this.#word, 0, 4, 4 * block);
  }

  close(): void {
    if (this.path) forget(this.path);
    if (this.#wearPath) forget(this.#wearPath);
  }

  #create(path: string, contents: Uint8Array): void {
    closeSync(openSync(path, "w"));
    writeSync(descriptor(path), contents, 0, contents.byteLength, 0);
  }
}
