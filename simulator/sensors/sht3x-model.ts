/*
 * A command-level model of the Sensirion SHT3x-DIS (datasheet version 6) on
 * the simulator's I2C bus: single-shot measurements without clock
 * stretching, soft reset, the status register, CRC-8 on every word, and the
 * part's timing: while it measures or resets it acknowledges nothing, and a
 * read with no result waiting is NACKed (section 4.4).
 */
import type { I2cTarget } from "../engine/i2c-bus.js";

export const SHT3X_ADDRESS = 0x44;

const Command = Object.freeze({
  SOFT_RESET: 0x30a2,
  READ_STATUS: 0xf32d,
  CLEAR_STATUS: 0x3041,
});
/** Single shot, clock stretching disabled (Table 9) → measurement duration, ms. */
const SINGLE_SHOT: ReadonlyMap<number, number> = new Map([
  // Table 4, maximum at VDD ≥ 2.4 V: a driver that waits only the typical time fails here.
  [0x2400, 15],
  [0x240b, 6],
  [0x2416, 4],
]);
/** Commands kept for tests to look at. */
const LOGGED_LIMIT = 64;
/**
 * Single shot with clock stretching (Table 9): the part holds SCL low until
 * the result is ready, so a read during the measurement waits rather than
 * being NACKed (what the Moddable SDK's driver relies on).
 */
const STRETCHED: ReadonlyMap<number, number> = new Map([
  [0x2c06, 15],
  [0x2c0d, 6],
  [0x2c10, 4],
]);
const SOFT_RESET_MS = 1.5; // Table 4, tSR max
/** Status after any reset: alert pending (bit 15) and system reset detected (bit 4), Table 18. */
const STATUS_AFTER_RESET = 0x8010;
const STATUS_COMMAND_FAILED = 1 << 1;

export type Sht3xField = "temperature" | "humidity";

export interface Sht3xModelOptions {
  /** °C at the moment a measurement starts. */
  temperature: () => number;
  /** %RH at the moment a measurement starts. */
  humidity: () => number;
  /** The device's clock, ms: the simulator's host clock, or a test's. */
  now: () => number;
}

export class Sht3xModel implements I2cTarget {
  private readonly options: Sht3xModelOptions;
  private busyUntil = -Infinity;
  /** The measurement under way stretches the clock: a read waits for it. */
  private stretching = false;
  /** What the next read returns, or undefined: the read header is then NACKed. */
  private pending: Uint8Array | undefined;
  status = STATUS_AFTER_RESET;
  /** The last LOGGED_LIMIT commands accepted, in order (a model runs for days in a fleet). */
  readonly commands: number[] = [];
  /** Fault injection: the part does not acknowledge (unplugged, or a bus fault). */
  unplugged = false;
  /** Fault injection: the CRC of this word in the next result is wrong. */
  corruptNextCrc: Sht3xField | undefined;

  constructor(options: Sht3xModelOptions) {
    this.options = options;
  }

  /** Sensirion CRC-8 (Table 20), table-free and independent of the driver's. */
  static crc8(msb: number, lsb: number): number {
    let crc = 0xff ^ msb;
    for (let i = 0; i < 16; i++) {
      if (i === 8) crc ^= lsb;
      crc = (crc << 1) ^ (crc & 0x80 ? 0x31 : 0);
      crc &= 0xff;
    }
    return crc;
  }

  /** The inverse of section 4.13's conversions, rounded and saturated as a 16-bit output. */
  static encodeTemperature(celsius: number): number {
    return Math.max(0, Math.min(0xffff, Math.round(((celsius + 45) * 65535) / 175)));
  }

  static encodeHumidity(percent: number): number {
    return Math.max(0, Math.min(0xffff, Math.round((percent * 65535) / 100)));
  }

  write(bytes: Uint8Array): boolean {
    if (this.unplugged || this.busy()) return false;
    if (bytes.byteLength === 0) return true;
    if (bytes.byteLength !== 2) return false;
    const command = (bytes[0] << 8) | bytes[1];
    const duration = SINGLE_SHOT.get(command) ?? STRETCHED.get(command);
    const now = this.options.now();
    this.pending = undefined;
    this.stretching = false;
    if (duration !== undefined) {
      this.pending = this.result();
      this.busyUntil = now + duration;
      this.stretching = STRETCHED.has(command);
    } else if (command === Command.SOFT_RESET) {
      this.status = STATUS_AFTER_RESET;
      this.busyUntil = now + SOFT_RESET_MS;
    } else if (command === Command.READ_STATUS) {
      this.pending = word(this.status);
    } else if (command === Command.CLEAR_STATUS) {
      this.status &= ~0x8c10;
    } else {
      // Table 18 bit 1: "last command not processed".
      this.status |= STATUS_COMMAND_FAILED;
      return true;
    }
    this.status &= ~STATUS_COMMAND_FAILED;
    if (this.commands.length >= LOGGED_LIMIT) this.commands.shift();
    this.commands.push(command);
    return true;
  }

  read(count: number): Uint8Array | undefined {
    if (this.unplugged || (this.busy() && !this.stretching) || !this.pending) return undefined;
    const out = new Uint8Array(count).fill(0xff);
    out.set(this.pending.subarray(0, Math.min(count, this.pending.byteLength)));
    // Read out once: the data memory is cleared (section 4.6).
    this.pending = undefined;
    return out;
  }

  private busy(): boolean {
    return this.options.now() < this.busyUntil;
  }

  private result(): Uint8Array {
    const t = word(Sht3xModel.encodeTemperature(this.options.temperature()));
    const rh = word(Sht3xModel.encodeHumidity(this.options.humidity()));
    if (this.corruptNextCrc === "temperature") t[2] ^= 0x01;
    if (this.corruptNextCrc === "humidity") rh[2] ^= 0x01;
    this.corruptNextCrc = undefined;
    const out = new Uint8Array(6);
    out.set(t, 0);
    out.set(rh, 3);
    return out;
  }
}

function word(value: number): Uint8Array {
  const msb = (value >> 8) & 0xff;
  const lsb = value & 0xff;
  return Uint8Array.of(msb, lsb, Sht3xModel.crc8(msb, lsb));
}
