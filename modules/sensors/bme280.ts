/*
 * Bosch BME280 humidity, pressure and temperature sensor (datasheet
 * BST-BME280-DS002), in the ECMA-419 sensor pattern: the I2C class arrives in
 * the options.
 *
 * Forced mode (section 3.3.2): each sample() starts one measurement, waits
 * the datasheet's maximum measurement time (section 9.1) with the injected
 * `delay`, confirms with the status register that it has finished, and
 * burst-reads the data block (section 4, "data readout").
 *
 * Compensation: temperature and humidity use the 32-bit integer code of
 * section 4.2.3, ported with Math.imul and `| 0` so every step wraps exactly
 * as the C int32 code does. Pressure uses the double-precision code of
 * section 8.1: the 64-bit integer version has intermediates near 2^62
 * ((p << 31) × 3125), beyond a double's 53 exact bits, and BigInt would
 * allocate on every operation on XS; the 32-bit integer version of section
 * 8.2 rounds to 1 Pa, coarser than the part's 0.18 Pa resolution.
 */
import type { SensorIO, SensorIOOptions, SensorOptions } from "./sensor-io.js";

/** Memory map, section 5.3, Table 18. */
const Register = Object.freeze({
  CALIB_TP: 0x88, // dig_T1..dig_P9 at 0x88..0x9F, dig_H1 at 0xA1 (Table 16)
  CHIP_ID: 0xd0,
  RESET: 0xe0,
  CALIB_H: 0xe1, // dig_H2..dig_H6 at 0xE1..0xE7 (Table 16)
  CTRL_HUM: 0xf2,
  STATUS: 0xf3,
  CTRL_MEAS: 0xf4,
  DATA: 0xf7, // press_msb..hum_lsb, 0xF7..0xFE
});
const CALIB_TP_BYTES = 0xa1 - 0x88 + 1;
const CALIB_H_BYTES = 0xe7 - 0xe1 + 1;
const DATA_BYTES = 0xfe - 0xf7 + 1;

const CHIP_ID = 0x60; // section 5.4.1
/** BMP280 chip ids (its datasheet, section 4.3.1): 0x56 and 0x57 for samples, 0x58 in production. */
const BMP280_IDS = Object.freeze([0x56, 0x57, 0x58]);
const RESET_WORD = 0xb6; // section 5.4.2
const STATUS_MEASURING = 1 << 3; // section 5.4.4
const STATUS_IM_UPDATE = 1 << 0;
const MODE_FORCED = 0b01; // ctrl_meas mode[1:0], section 5.4.5
/** Output of a measurement that was skipped (oversampling 0): sections 5.4.7 to 5.4.9. */
const SKIPPED_20_BIT = 0x80000;
const SKIPPED_16_BIT = 0x8000;

/** Start-up time after reset, Table 1: 2 ms max. */
const STARTUP_MS = 2;
/** Bounds the wait for the NVM copy (status im_update) after reset: Bosch's own driver gives it 5 × 2 ms. */
const NVM_POLLS = 5;
const NVM_POLL_MS = 2;
/** Status polls after the maximum measurement time has passed, 1 ms apart, before giving up. */
const MEASURING_POLLS = 5;

/** osrs_h / osrs_p / osrs_t codes (Tables 20, 23, 24): oversampling factor → register code; 0 skips. */
const OversamplingCode = Object.freeze({ 0: 0b000, 1: 0b001, 2: 0b010, 4: 0b011, 8: 0b100, 16: 0b101 });
export type Oversampling = 0 | 1 | 2 | 4 | 8 | 16;
type Channel = "temperature" | "pressure" | "humidity";
const CHANNELS: readonly Channel[] = Object.freeze(["temperature", "pressure", "humidity"]);

export interface Bme280Calibration {
  digT1: number; digT2: number; digT3: number;
  digP1: number; digP2: number; digP3: number; digP4: number; digP5: number;
  digP6: number; digP7: number; digP8: number; digP9: number;
  digH1: number; digH2: number; digH3: number; digH4: number; digH5: number; digH6: number;
}

const u16 = (b: Uint8Array, i: number): number => b[i] | (b[i + 1] << 8);
const s16 = (b: Uint8Array, i: number): number => (u16(b, i) << 16) >> 16;
const s8 = (value: number): number => (value << 24) >> 24;

/** Table 16: little-endian words from 0x88..0xA1 (`tp`) and 0xE1..0xE7 (`h`), with H4/H5 sharing 0xE5's nibbles. */
export function parseCalibration(tp: Uint8Array, h: Uint8Array): Bme280Calibration {
  return {
    digT1: u16(tp, 0), digT2: s16(tp, 2), digT3: s16(tp, 4),
    digP1: u16(tp, 6), digP2: s16(tp, 8), digP3: s16(tp, 10), digP4: s16(tp, 12), digP5: s16(tp, 14),
    digP6: s16(tp, 16), digP7: s16(tp, 18), digP8: s16(tp, 20), digP9: s16(tp, 22),
    digH1: tp[25],
    digH2: s16(h, 0),
    digH3: h[2],
    digH4: (s8(h[3]) * 16) | (h[4] & 0x0f), // 0xE4 = H4[11:4] (signed), 0xE5[3:0] = H4[3:0]
    digH5: (s8(h[5]) * 16) | (h[4] >> 4), // 0xE6 = H5[11:4] (signed), 0xE5[7:4] = H5[3:0]
    digH6: s8(h[6]),
  };
}

/** t_fine from a 20-bit temperature reading: BME280_compensate_T_int32, section 4.2.3. */
export function temperatureFine(c: Bme280Calibration, adcT: number): number {
  const var1 = Math.imul((adcT >> 3) - (c.digT1 << 1), c.digT2) >> 11;
  const d = (adcT >> 4) - c.digT1;
  const var2 = Math.imul(Math.imul(d, d) >> 12, c.digT3) >> 14;
  return (var1 + var2) | 0;
}

/** Temperature in 0.01 °C from t_fine, section 4.2.3. */
export const centiCelsius = (tFine: number): number => (Math.imul(tFine, 5) + 128) >> 8;

/** Pressure in Pa: BME280_compensate_P_double, section 8.1. */
export function pressurePa(c: Bme280Calibration, adcP: number, tFine: number): number {
  let var1 = tFine / 2 - 64000;
  let var2 = (var1 * var1 * c.digP6) / 32768;
  var2 = var2 + var1 * c.digP5 * 2;
  var2 = var2 / 4 + c.digP4 * 65536;
  var1 = ((c.digP3 * var1 * var1) / 524288 + c.digP2 * var1) / 524288;
  var1 = (1 + var1 / 32768) * c.digP1;
  if (var1 === 0) return NaN; // dig_P1 = 0: no valid calibration
  let p = 1048576 - adcP;
  p = ((p - var2 / 4096) * 6250) / var1;
  var1 = (c.digP9 * p * p) / 2147483648;
  var2 = (p * c.digP8) / 32768;
  return p + (var1 + var2 + c.digP7) / 16;
}

/** Humidity in %RH × 1024 (Q22.10): bme280_compensate_H_int32, section 4.2.3. */
export function humidityQ10(c: Bme280Calibration, adcH: number, tFine: number): number {
  let v = (tFine - 76800) | 0;
  const scale =
    (Math.imul(((Math.imul(Math.imul(v, c.digH6) >> 10, ((Math.imul(v, c.digH3) >> 11) + 32768) | 0) >> 10) + 2097152) | 0, c.digH2) + 8192) >> 14;
  v = Math.imul(((adcH << 14) - (c.digH4 << 20) - Math.imul(c.digH5, v) + 16384) >> 15, scale);
  v = (v - (Math.imul(Math.imul(v >> 15, v >> 15) >> 7, c.digH1) >> 4)) | 0;
  v = v < 0 ? 0 : v > 419430400 ? 419430400 : v;
  return v >> 12;
}

/** Maximum measurement time, ms, section 9.1; a skipped pressure or humidity measurement costs nothing. */
export function maxMeasurementMs(temperature: number, pressure: number, humidity: number): number {
  // In µs so the sum is exact, then rounded up to the whole ms Timer.delay takes.
  const us = 1250 + 2300 * temperature + (pressure ? 2300 * pressure + 575 : 0) + (humidity ? 2300 * humidity + 575 : 0);
  return Math.ceil(us / 1000);
}

export interface BME280Options extends SensorOptions {
  /**
   * Blocks for `ms` milliseconds while the part resets and measures. Required:
   * on a board pass Moddable's `Timer.delay` (from "timer"); in the simulator
   * the same call moves the device's clock on.
   */
  delay: (ms: number) => void;
}

export interface BME280Configuration {
  /** Oversampling per channel (Tables 20, 23, 24). 0 skips pressure or humidity; temperature is always measured. */
  oversampling?: { temperature?: Oversampling; pressure?: Oversampling; humidity?: Oversampling };
}

export interface EnvironmentSample {
  /** °C, in steps of 0.01. */
  temperature?: number;
  /** Pa. */
  pressure?: number;
  /** %RH, in steps of 1/1024. */
  humidity?: number;
}

export default class BME280 {
  #io: SensorIO;
  readonly #delay: (ms: number) => void;
  readonly #onError: ((message: string) => void) | undefined;
  readonly #calibration: Bme280Calibration;
  readonly #pointer = new Uint8Array(1);
  readonly #byte = new Uint8Array(1);
  /** ctrl_hum then ctrl_meas in one write: ctrl_hum takes effect only when ctrl_meas is written (section 5.4.3). */
  readonly #control = Uint8Array.of(Register.CTRL_HUM, 0, Register.CTRL_MEAS, 0);
  readonly #data = new Uint8Array(DATA_BYTES);
  /** Oversampling factors; the weather-monitoring setting of section 3.5.1 (×1 each) by default. */
  readonly #oversampling = { temperature: 1, pressure: 1, humidity: 1 };
  #measureMs = 0;
  /** Faults reported through onError since construction: one per failed transfer or skipped channel. */
  errors = 0;

  constructor(options: BME280Options) {
    const { sensor } = options;
    if (typeof options.delay !== "function") throw new TypeError("BME280: options.delay (e.g. Timer.delay) is required");
    this.#delay = options.delay;
    this.#onError = options.onError;
    this.#io = new sensor.io({ hz: 400_000, address: 0x76, ...sensor } as SensorIOOptions);
    const where = `I2C address 0x${(sensor.address ?? 0x76).toString(16)}`;
    let id: number;
    try {
      id = this.#read(Register.CHIP_ID, this.#byte)[0];
    } catch {
      this.#io.close();
      throw new Error(`BME280 not found at ${where}`);
    }
    if (id !== CHIP_ID) {
      this.#io.close();
      if (BMP280_IDS.includes(id)) throw new Error(`BME280 expected at ${where}, found a BMP280 (chip id 0x${id.toString(16)}), which has no humidity sensor`);
      throw new Error(`BME280 expected chip id 0x60 at ${where}, read 0x${id.toString(16)}`);
    }
    const tp = new Uint8Array(CALIB_TP_BYTES);
    const h = new Uint8Array(CALIB_H_BYTES);
    try {
      // A reset leaves a part that an earlier run left in normal mode asleep, with the oversampling and filter at defaults.
      this.#io.write(Uint8Array.of(Register.RESET, RESET_WORD));
      this.#delay(STARTUP_MS);
      for (let poll = 0; this.#read(Register.STATUS, this.#byte)[0] & STATUS_IM_UPDATE; poll++) {
        if (poll === NVM_POLLS) throw new Error(`calibration still being copied after ${STARTUP_MS + NVM_POLLS * NVM_POLL_MS} ms`);
        this.#delay(NVM_POLL_MS);
      }
      this.#read(Register.CALIB_TP, tp);
      this.#read(Register.CALIB_H, h);
    } catch (error) {
      this.#io.close();
      throw new Error(`BME280 at ${where}: reset and calibration read failed: ${(error as Error).message}`);
    }
    this.#calibration = parseCalibration(tp, h);
    if (this.#calibration.digT1 === 0 || this.#calibration.digP1 === 0) {
      this.#io.close();
      throw new Error(`BME280 at ${where}: calibration reads dig_T1 ${this.#calibration.digT1}, dig_P1 ${this.#calibration.digP1}; a trimmed part has neither 0`);
    }
    this.#apply();
  }

  configure(options: BME280Configuration): void {
    const { oversampling } = options;
    if (oversampling === undefined) return;
    if (typeof oversampling !== "object" || oversampling === null) throw new RangeError(`BME280: invalid oversampling ${String(oversampling)}`);
    // Check everything before changing anything, so a bad option leaves the configuration as it was.
    for (const key of Object.keys(oversampling)) {
      if (!CHANNELS.includes(key as Channel)) throw new RangeError(`BME280: unknown option oversampling.${key}`);
      const value = (oversampling as Record<string, unknown>)[key];
      if (value === undefined) continue;
      if (typeof value !== "number" || !Object.hasOwn(OversamplingCode, value))
        throw new RangeError(`BME280: invalid oversampling.${key} ${String(value)} (expected 0, 1, 2, 4, 8 or 16)`);
      if (key === "temperature" && value === 0)
        throw new RangeError("BME280: invalid oversampling.temperature 0: pressure and humidity compensation need the temperature");
    }
    for (const key of CHANNELS) {
      const value = oversampling[key];
      if (value !== undefined) this.#oversampling[key] = value;
    }
    this.#apply();
  }

  /** One forced measurement. A channel that fails is left out, and onError told why. */
  sample(): EnvironmentSample {
    const sample: EnvironmentSample = {};
    const data = this.#data;
    try {
      this.#io.write(this.#control);
      this.#delay(this.#measureMs);
      for (let poll = 0; this.#read(Register.STATUS, this.#byte)[0] & STATUS_MEASURING; poll++) {
        if (poll === MEASURING_POLLS) {
          this.#fault(`BME280 still measuring ${this.#measureMs + MEASURING_POLLS} ms after the start`);
          return sample;
        }
        this.#delay(1);
      }
      this.#read(Register.DATA, data);
    } catch (error) {
      this.#fault(`BME280 read failed: ${(error as Error).message}`);
      return sample;
    }
    const adcT = (data[3] << 12) | (data[4] << 4) | (data[5] >> 4);
    if (adcT === SKIPPED_20_BIT) {
      this.#fault("BME280 temperature was skipped (raw 0x80000); without it neither pressure nor humidity can be compensated");
      return sample;
    }
    const c = this.#calibration;
    const tFine = temperatureFine(c, adcT);
    sample.temperature = centiCelsius(tFine) / 100;
    if (this.#oversampling.pressure) {
      const adcP = (data[0] << 12) | (data[1] << 4) | (data[2] >> 4);
      if (adcP === SKIPPED_20_BIT) this.#fault("BME280 pressure was skipped (raw 0x80000) although enabled");
      else sample.pressure = pressurePa(c, adcP, tFine);
    }
    if (this.#oversampling.humidity) {
      const adcH = (data[6] << 8) | data[7];
      if (adcH === SKIPPED_16_BIT) this.#fault("BME280 humidity was skipped (raw 0x8000) although enabled");
      else sample.humidity = humidityQ10(c, adcH, tFine) / 1024;
    }
    return sample;
  }

  close(): void {
    this.#io.close();
  }

  /** Register values for the next forced measurement, and how long it can take. */
  #apply(): void {
    const { temperature, pressure, humidity } = this.#oversampling;
    const code = OversamplingCode as Record<number, number>;
    this.#control[1] = code[humidity];
    this.#control[3] = (code[temperature] << 5) | (code[pressure] << 2) | MODE_FORCED;
    this.#measureMs = maxMeasurementMs(temperature, pressure, humidity);
  }

  #read(register: number, into: Uint8Array): Uint8Array {
    this.#pointer[0] = register;
    this.#io.write(this.#pointer, false);
    this.#io.read(into);
    return into;
  }

  #fault(message: string): void {
    this.errors++;
    this.#onError?.(message);
  }
}
