/*
 * Texas Instruments OPT3001 ambient light sensor (datasheet SBOS681C), as an
 * ECMA-419 driver of the app's own: the I2C class arrives in the options,
 * so it runs on every board and on the simulator's bus alike.
 *
 * Registers are 16-bit, big-endian, selected by a pointer byte (section
 * 7.5.1). A result is E[15:12] (exponent) and R[11:0] (mantissa):
 * lux = 0.01 × 2^E × R (equation 3). Configured for automatic full-scale,
 * 100 ms conversions, continuous (Table 9).
 */
interface I2C {
  write(buffer: ArrayBufferView, stop?: boolean): void;
  read(buffer: ArrayBufferView, stop?: boolean): unknown;
  close(): void;
}
interface Options {
  sensor: { io: new (options: Record<string, unknown>) => I2C; address?: number; [key: string]: unknown };
  onError?: (message: string) => void;
}

const Register = Object.freeze({ RESULT: 0x00, CONFIGURATION: 0x01, MANUFACTURER_ID: 0x7e, DEVICE_ID: 0x7f });
/** "TI" and 0x3001 (sections 7.6.1.5, 7.6.1.6). */
const MANUFACTURER_ID = 0x5449;
const DEVICE_ID = 0x3001;
/** RN = 1100 (automatic full-scale), CT = 0 (100 ms), M = 10 (continuous), L = 1 (latched): Table 9. */
const CONTINUOUS_AUTO = 0b1100_0_10_0_0_0_0_1_0_0_00;
/** Configuration bit 7: a conversion has completed since the configuration was last read. */
const CONVERSION_READY = 1 << 7;
const DEFAULT_ADDRESS = 0x44; // ADDR to GND (Table 1)

export default class OPT3001 {
  readonly #io: I2C;
  readonly #pointer = new Uint8Array(1);
  readonly #word = new Uint8Array(2);
  readonly #write = new Uint8Array(3);
  readonly #onError: ((message: string) => void) | undefined;
  #converted = false;

  constructor(options: Options) {
    this.#onError = options.onError;
    this.#io = new options.sensor.io({ hz: 400_000, address: DEFAULT_ADDRESS, ...options.sensor });
    let ids: number[];
    try {
      ids = [this.#read(Register.MANUFACTURER_ID), this.#read(Register.DEVICE_ID)];
    } catch {
      this.#io.close();
      throw new Error(`OPT3001 not found at I2C address 0x${(options.sensor.address ?? DEFAULT_ADDRESS).toString(16)}`);
    }
    if (ids[0] !== MANUFACTURER_ID || ids[1] !== DEVICE_ID) {
      this.#io.close();
      throw new Error(`OPT3001 expected ids 0x5449/0x3001, read 0x${ids[0].toString(16)}/0x${ids[1].toString(16)}`);
    }
    this.#writeRegister(Register.CONFIGURATION, CONTINUOUS_AUTO);
  }

  configure(): void {}

  /** `{ illuminance }` in lux (the ECMA-419 AmbientLight class), or nothing before the first conversion. */
  sample(): { illuminance?: number } {
    if (!this.#converted) {
      if ((this.#read(Register.CONFIGURATION) & CONVERSION_READY) === 0) {
        this.#onError?.("OPT3001 has no conversion result yet");
        return {};
      }
      this.#converted = true;
    }
    const raw = this.#read(Register.RESULT);
    return { illuminance: 0.01 * 2 ** (raw >> 12) * (raw & 0x0fff) };
  }

  close(): void {
    this.#io.close();
  }

  #read(register: number): number {
    this.#pointer[0] = register;
    this.#io.write(this.#pointer, false);
    this.#io.read(this.#word);
    return (this.#word[0] << 8) | this.#word[1];
  }

  #writeRegister(register: number, value: number): void {
    this.#write[0] = register;
    this.#write[1] = value >> 8;
    this.#write[2] = value & 0xff;
    this.#io.write(this.#write);
  }
}
