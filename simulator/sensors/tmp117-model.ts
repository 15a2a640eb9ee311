/*
 * A register-level model of the TI TMP117 (datasheet SNOSD82) on the
 * simulator's I2C bus: pointer register, 16-bit big-endian registers, the
 * 7.8125 m°C result format, the Device_ID, and faults on demand.
 */
import type { I2cTarget } from "../engine/i2c-bus.js";

export const TMP117_ADDRESS = 0x48;
const CELSIUS_PER_LSB = 0.0078125;
const REGISTER_COUNT = 0x10;

/** Power-on values (datasheet register map). */
const RESET: ReadonlyArray<[number, number]> = [
  [0x00, 0x8000], // Temp_Result: -256 °C until the first conversion
  [0x01, 0x0220], // Configuration: continuous, 1 s cycle, 8 averages
  [0x02, 0x6000], // THigh_Limit: 192 °C
  [0x03, 0x8000], // TLow_Limit: -256 °C
  [0x0f, 0x0117], // Device_ID
];
const WRITABLE = new Set([0x01, 0x02, 0x03, 0x07]);

export interface Tmp117ModelOptions {
  /** The temperature the part measures, °C, asked at each conversion. */
  temperature: () => number;
}

export class Tmp117Model implements I2cTarget {
  readonly registers = new Uint16Array(REGISTER_COUNT);
  private pointer = 0;
  private readonly temperature: () => number;
  /** Fault injection: when true the part does not acknowledge (unplugged, or a bus fault). */
  unplugged = false;
  /** Fault injection: when true no conversion has completed (Temp_Result keeps its reset value). */
  converting = false;

  constructor(options: Tmp117ModelOptions) {
    this.temperature = options.temperature;
    for (const [register, value] of RESET) this.registers[register] = value;
  }

  /** Encodes °C as the part does: two's complement counts of 7.8125 m°C, saturated. */
  static encode(celsius: number): number {
    const counts = Math.max(-0x8000, Math.min(0x7fff, Math.round(celsius / CELSIUS_PER_LSB)));
    return counts & 0xffff;
  }

  write(bytes: Uint8Array): boolean {
    if (this.unplugged || bytes.byteLength === 0) return !this.unplugged;
    if (bytes[0] >= REGISTER_COUNT) return false;
    this.pointer = bytes[0];
    if (bytes.byteLength === 3 && WRITABLE.has(this.pointer)) this.registers[this.pointer] = (bytes[1] << 8) | bytes[2];
    return bytes.byteLength === 1 || bytes.byteLength === 3;
  }

  read(count: number): Uint8Array | undefined {
    if (this.unplugged) return undefined;
    if (this.pointer === 0x00 && !this.converting) this.registers[0] = Tmp117Model.encode(this.temperature());
    const value = this.registers[this.pointer];
    const out = new Uint8Array(count);
    // The part repeats the register's two bytes for a longer read.
    for (let i = 0; i < count; i++) out[i] = i % 2 === 0 ? value >> 8 : value & 0xff;
    return out;
  }
}
