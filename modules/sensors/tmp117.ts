/*
 * Texas Instruments TMP117 digital temperature sensor (datasheet SNOSD82),
 * in the ECMA-419 sensor pattern: the I2C class arrives in the options, so
 * the same driver runs on every board and on the simulator's bus.
 *
 * Registers are 16-bit, big-endian, selected by a pointer byte. A result is
 * a two's-complement count of 7.8125 m°C.
 */
import type { SensorIO, SensorIOOptions, SensorOptions } from "./sensor-io.js";

const Register = Object.freeze({
  TEMP_RESULT: 0x00,
  CONFIGURATION: 0x01,
  DEVICE_ID: 0x0f,
});

/** Device_ID bits 11:0 (bits 15:12 are the revision). */
const DEVICE_ID = 0x117;
const DEVICE_ID_MASK = 0x0fff;
const CELSIUS_PER_LSB = 0.0078125;
/** Temp_Result reads -256 °C (0x8000) until the first conversion completes. */
const NO_RESULT = -0x8000;

/** Configuration MOD bits 11:10. */
const Mode = Object.freeze({ continuous: 0b00, shutdown: 0b01, oneShot: 0b11 });
/** Configuration AVG bits 6:5: conversions averaged per result. */
const Averaging = Object.freeze({ 1: 0b00, 8: 0b01, 32: 0b10, 64: 0b11 });
const MODE_SHIFT = 10;
const AVG_SHIFT = 5;
const MODE_MASK = 0b11 << MODE_SHIFT;
const AVG_MASK = 0b11 << AVG_SHIFT;

export interface TMP117Configuration {
  mode?: keyof typeof Mode;
  averaging?: 1 | 8 | 32 | 64;
}

export interface TemperatureSample {
  temperature?: number;
}

export default class TMP117 {
  #io: SensorIO;
  readonly #pointer = new Uint8Array(1);
  readonly #word = new Uint8Array(2);
  readonly #write = new Uint8Array(3);
  readonly #onError: ((message: string) => void) | undefined;
  /** Faults reported through onError since construction. */
  errors = 0;

  constructor(options: SensorOptions) {
    const { sensor } = options;
    this.#onError = options.onError;
    // The board's host provider supplies the pins; the part's defaults come first so options override them.
    this.#io = new sensor.io({ hz: 400_000, address: 0x48, ...sensor } as SensorIOOptions);
    let id: number;
    try {
      id = this.#readRegister(Register.DEVICE_ID);
    } catch {
      this.#io.close();
      throw new Error(`TMP117 not found at I2C address 0x${(sensor.address ?? 0x48).toString(16)}`);
    }
    if ((id & DEVICE_ID_MASK) !== DEVICE_ID) {
      this.#io.close();
      throw new Error(`TMP117 expected device id 0x117, read 0x${id.toString(16)}`);
    }
  }

  configure(options: TMP117Configuration): void {
    let config = this.#readRegister(Register.CONFIGURATION);
    if (options.mode !== undefined) {
      if (!(options.mode in Mode)) throw new RangeError(`TMP117: invalid mode ${String(options.mode)}`);
      config = (config & ~MODE_MASK) | (Mode[options.mode] << MODE_SHIFT);
    }
    if (options.averaging !== undefined) {
      if (!(options.averaging in Averaging)) throw new RangeError(`TMP117: invalid averaging ${String(options.averaging)}`);
      config = (config & ~AVG_MASK) | (Averaging[options.averaging] << AVG_SHIFT);
    }
    this.#writeRegister(Register.CONFIGURATION, config);
  }

  /** The latest result; `temperature` is left out, and onError told why, when there is none. */
  sample(): TemperatureSample {
    let raw: number;
    try {
      raw = this.#readRegister(Register.TEMP_RESULT);
    } catch (error) {
      this.#fault(`TMP117 read failed: ${(error as Error).message}`);
      return {};
    }
    const signed = (raw << 16) >> 16;
    if (signed === NO_RESULT) {
      this.#fault("TMP117 has no conversion result yet");
      return {};
    }
    return { temperature: signed * CELSIUS_PER_LSB };
  }

  close(): void {
    this.#io.close();
  }

  #fault(message: string): void {
    this.errors++;
    this.#onError?.(message);
  }

  #readRegister(register: number): number {
    this.#pointer[0] = register;
    this.#io.write(this.#pointer, false);
    this.#io.read(this.#word);
    return (this.#word[0] << 8) | this.#word[1];
  }

  #writeRegister(register: number, value: number): void {
    this.#write[0] = register;
    this.#write[1] = (value >> 8) & 0xff;
    this.#write[2] = value & 0xff;
    this.#io.write(this.#write);
  }
}
