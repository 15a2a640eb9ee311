/*
 * A register-level model of the OPT3001 on the simulator's I2C bus, from
 * its datasheet (SBOS681C), independent of the driver: the pointer register,
 * the ids, the configuration with its conversion-ready flag (set at the end
 * of each conversion in continuous mode, cleared by reading the
 * configuration, section 7.6.1.2), and results encoded as the part encodes
 * them (the smallest exponent whose mantissa fits 12 bits, automatic range).
 */
import type { I2cTarget } from "xsedge/simulator";

export const OPT3001_ADDRESS = 0x44;
const CONVERSION_MS = { 0: 100, 1: 800 } as const;

export class Opt3001Model implements I2cTarget {
  readonly #lux: () => number;
  readonly #now: () => number;
  #pointer = 0;
  #configuration = 0xc810; // power-on: automatic range, 800 ms, shutdown, latched
  #startedAt = 0;
  #readyCleared = 0;

  constructor(options: { lux: () => number; now: () => number }) {
    this.#lux = options.lux;
    this.#now = options.now;
  }

  /** Equation 3 backwards: lux = 0.01 × 2^E × R, R at most 4095. */
  static encode(lux: number): number {
    let exponent = 0;
    while (exponent < 11 && lux / (0.01 * 2 ** exponent) > 4095) exponent++;
    const mantissa = Math.min(4095, Math.max(0, Math.round(lux / (0.01 * 2 ** exponent))));
    return (exponent << 12) | mantissa;
  }

  write(bytes: Uint8Array): boolean {
    if (bytes.byteLength === 0) return true;
    this.#pointer = bytes[0];
    if (bytes.byteLength === 3 && this.#pointer === 0x01) {
      // Bits 8 to 5 are read-only flags.
      this.#configuration = (((bytes[1] << 8) | bytes[2]) & ~0x01e0) | (this.#configuration & 0x01e0);
      this.#startedAt = this.#now();
      this.#readyCleared = 0;
    }
    return bytes.byteLength === 1 || bytes.byteLength === 3;
  }

  read(count: number): Uint8Array | undefined {
    const value = this.#register(this.#pointer);
    if (value === undefined) return undefined;
    const out = new Uint8Array(count);
    for (let i = 0; i < count; i++) out[i] = i % 2 === 0 ? value >> 8 : value & 0xff;
    return out;
  }

  /** Conversions completed since the configuration was written. */
  #conversions(): number {
    const continuous = (this.#configuration >> 9) & 0b11;
    if (continuous < 0b10) return 0;
    return Math.floor((this.#now() - this.#startedAt) / CONVERSION_MS[((this.#configuration >> 11) & 1) as 0 | 1]);
  }

  #register(register: number): number | undefined {
    switch (register) {
      case 0x00:
        return this.#conversions() > 0 ? Opt3001Model.encode(this.#lux()) : 0;
      case 0x01: {
        const done = this.#conversions();
        const ready = done > this.#readyCleared;
        this.#readyCleared = done;
        return (this.#configuration & ~0x0080) | (ready ? 0x0080 : 0);
      }
      case 0x7e:
        return 0x5449;
      case 0x7f:
        return 0x3001;
      default:
        return undefined;
    }
  }
}
