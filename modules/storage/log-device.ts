/*
 * The flash log's only path to the BlockDevice. Any failure of the device (a
 * power cut in the simulator, a flash fault on a board) leaves the log's RAM
 * view possibly out of step with flash, so from then on every call refuses
 * until the log is mounted again and has re-read what flash really holds.
 */
import type { BlockDevice } from "./block-device.js";

export class LogDevice {
  readonly device: BlockDevice;
  #failed = false;

  constructor(device: BlockDevice) {
    this.device = device;
  }

  /** Throws once the device has failed. */
  check(): void {
    if (this.#failed) throw new Error("flash log device failed: mount again");
  }

  read(at: number, length: number): Uint8Array {
    try {
      // The log never asks for a HostBuffer, so the SDK returns an ArrayBuffer.
      return new Uint8Array(this.device.read(at, length) as ArrayBuffer);
    } catch (error) {
      this.#failed = true;
      throw error;
    }
  }

  write(at: number, length: number, buffer: ArrayBuffer): void {
    try {
      this.device.write(at, length, buffer);
    } catch (error) {
      this.#failed = true;
      throw error;
    }
  }

  erase(block: number): void {
    try {
      this.device.erase(block);
    } catch (error) {
      this.#failed = true;
      throw error;
    }
  }
}
