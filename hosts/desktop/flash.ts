/*
 * The SDK's `flash` module for the desktop simulator, where the SDK has none
 * (its flash module exists for esp, esp32 and nrf52 only). The partition is a
 * file under the SDK's file root (config.file.root: /tmp/ on lin), so a log
 * survives restarting mcsim as it survives a reboot on a board.
 *
 * NOR semantics, as on the boards: an erased block reads 0xFF, and a write
 * can only clear bits (the file takes old AND new), so a log that writes over
 * unerased bytes corrupts here exactly as it would on an ESP32.
 *
 * Runs on XS inside mcsim: only the SDK's file module, no Node APIs. rollup
 * bundles it into build/moddable/desktop/flash.js.
 */
/// <reference path="../../node_modules/@moddable/typings/file.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/mc/config.d.ts" />
import { File } from "file";
import config from "mc/config";

/** The ESP32 partition's geometry (hosts/esp32/partitions.csv), so the log wraps here when it would there. */
const BYTE_LENGTH = 256 * 1024;
/** The sector size of the SPI NOR parts on ESP32 and pico boards and of the nRF52's internal flash. */
const BLOCK_SIZE = 4096;
const ERASED = 0xff;
const PARTITION_NAME = /^[A-Za-z0-9_-]{1,16}$/;

type BufferLike = ArrayBuffer | ArrayBufferView;

function bytesOf(value: BufferLike): Uint8Array {
  return value instanceof ArrayBuffer ? new Uint8Array(value) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

function erasedBlock(): ArrayBuffer {
  return new Uint8Array(BLOCK_SIZE).fill(ERASED).buffer as ArrayBuffer;
}

export default class Flash {
  #file: File | undefined;

  constructor(name: string) {
    // The name becomes part of a path; refuse anything that could leave the root (16 is the ESP32 label limit).
    if (typeof name !== "string" || !PARTITION_NAME.test(name)) throw new Error("can't find partition");
    const file = new File(`${config.file.root}xsedge-flash-${name}.bin`, true);
    if (file.length !== BYTE_LENGTH) {
      // A new or foreign file: format it as a factory-fresh part, all blocks erased.
      file.position = 0;
      for (let offset = 0; offset < BYTE_LENGTH; offset += BLOCK_SIZE) file.write(erasedBlock());
    }
    this.#file = file;
  }

  get byteLength(): number {
    return BYTE_LENGTH;
  }

  get blockSize(): number {
    return BLOCK_SIZE;
  }

  read(offset: number, byteLength: number): ArrayBuffer {
    this.#range(offset, byteLength);
    const file = this.#open();
    file.position = offset;
    return file.read(ArrayBuffer, byteLength);
  }

  write(offset: number, byteLength: number, buffer: BufferLike): void {
    this.#range(offset, byteLength);
    const bytes = bytesOf(buffer);
    if (bytes.byteLength < byteLength) throw new Error("invalid");
    const file = this.#open();
    file.position = offset;
    const cell = new Uint8Array(file.read(ArrayBuffer, byteLength));
    for (let i = 0; i < byteLength; i++) cell[i] &= bytes[i];
    file.position = offset;
    file.write(cell.buffer as ArrayBuffer);
  }

  erase(sector: number): void {
    if (!Number.isInteger(sector) || sector < 0 || sector >= BYTE_LENGTH / BLOCK_SIZE) throw new Error("invalid sector");
    const file = this.#open();
    file.position = sector * BLOCK_SIZE;
    file.write(erasedBlock());
  }

  /** The file is not memory: no host can map it, and ESP32's map() is read-only anyway; read() gives the same bytes. */
  map(): never {
    throw new Error("map() not supported by the desktop flash stand-in");
  }

  close(): void {
    this.#file?.close();
    this.#file = undefined;
  }

  #open(): File {
    if (!this.#file) throw new Error("closed");
    return this.#file;
  }

  #range(offset: number, byteLength: number): void {
    if (!Number.isInteger(offset) || offset < 0 || offset >= BYTE_LENGTH) throw new Error("invalid offset");
    if (!Number.isInteger(byteLength) || byteLength <= 0 || offset + byteLength > BYTE_LENGTH) throw new Error("invalid length");
  }
}
