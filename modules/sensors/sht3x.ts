/*
 * Sensirion SHT3x-DIS (SHT30/31/35) humidity and temperature sensor
 * (datasheet "SHT3x-DIS", version 6, February 2019), in the ECMA-419 sensor
 * pattern: the I2C class arrives in the options.
 *
 * Single-shot measurements with clock stretching disabled (Table 9). The
 * datasheet offers two ways to know a result is ready: wait the measurement
 * duration (Table 4), or poll the read header, which the part NACKs until
 * data is present (section 4.4). Polling alone ties the wait to the bus
 * speed and to how fast the host retries, and clock stretching ties up the
 * bus and is not honoured by every I2C peripheral; so the driver waits the
 * worst-case duration with the injected `delay`, and treats a NACK on the
 * read that follows as "not ready yet", retried a bounded number of times.
 *
 * Commands and data words carry a CRC-8 (section 4.12, Table 20); every word
 * read is checked, and a bad word's field is left out of the sample.
 */
import type { SensorIO, SensorIOOptions, SensorOptions } from "./sensor-io.js";

/** 16-bit commands, MSB first; their own 3-bit checksum is built in (section 4). */
const Command = Object.freeze({
  SOFT_RESET: 0x30a2, // Table 14
  READ_STATUS: 0xf32d, // Table 17: status word + CRC
});

/** Single shot, clock stretching disabled (Table 9). */
const MeasureCommand = Object.freeze({ high: 0x2400, medium: 0x240b, low: 0x2416 });

/**
 * Measurement duration, Table 4, maximum over the whole supply range (the
 * 2.15 V to 2.4 V column: 15.5, 6.5 and 4.5 ms), rounded up to the whole
 * milliseconds that Timer.delay takes.
 */
const MeasureMs = Object.freeze({ high: 16, medium: 7, low: 5 });
/** Soft reset time tSR, Table 4: 1.5 ms max. */
const SOFT_RESET_MS = 2;
/** Minimum idle time between a command and the next transfer (section 4.3, Table 9 note). */
const IDLE_MS = 1;
/** Read attempts after the wait: a late part is given IDLE_MS more per attempt, a missing one is not waited on for long. */
const READ_ATTEMPTS = 3;

const DEFAULT_ADDRESS = 0x44; // ADDR low; 0x45 with ADDR high (Table 7)
/** Two data words, each followed by its CRC (section 4.4). */
const RESULT_BYTES = 6;
const WORD_BYTES = 3;

/** CRC-8, polynomial 0x31, init 0xFF, no reflection, no final XOR (Table 20). */
const CRC_POLYNOMIAL = 0x31;
const CRC_INIT = 0xff;

/** Sensirion's CRC-8 over the two bytes of a data word at `offset`. */
export function sensirionCrc8(bytes: Uint8Array, offset: number): number {
  let crc = CRC_INIT;
  for (let i = offset; i < offset + 2; i++) {
    crc ^= bytes[i];
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x80 ? ((crc << 1) ^ CRC_POLYNOMIAL) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

/** Section 4.13: T = -45 + 175 × S_T / (2^16 - 1) °C. */
export const celsiusFromRaw = (raw: number): number => -45 + (175 * raw) / 65535;
/** Section 4.13: RH = 100 × S_RH / (2^16 - 1) %RH. */
export const humidityFromRaw = (raw: number): number => (100 * raw) / 65535;

export type Repeatability = keyof typeof MeasureCommand;

export interface SHT3xOptions extends SensorOptions {
  /**
   * Blocks for `ms` milliseconds while the part measures. Required: on a board
   * pass Moddable's `Timer.delay` (from "timer"); in the simulator the same
   * call moves the device's clock on. Without a wait the first read would
   * only ever be NACKed.
   */
  delay: (ms: number) => void;
}

export interface SHT3xConfiguration {
  /** Higher repeatability is less noisy and takes longer (Table 4). Default "high". */
  repeatability?: Repeatability;
}

export interface HumiditySample {
  temperature?: number;
  humidity?: number;
}

export default class SHT3x {
  #io: SensorIO;
  readonly #delay: (ms: number) => void;
  readonly #onError: ((message: string) => void) | undefined;
  readonly #command = new Uint8Array(2);
  readonly #buffer = new Uint8Array(RESULT_BYTES);
  #repeatability: Repeatability = "high";
  /** Faults reported through onError since construction: one per failed transfer, one per bad word. */
  errors = 0;

  constructor(options: SHT3xOptions) {
    const { sensor } = options;
    if (typeof options.delay !== "function") throw new TypeError("SHT3x: options.delay (e.g. Timer.delay) is required");
    this.#delay = options.delay;
    this.#onError = options.onError;
    this.#io = new sensor.io({ hz: 400_000, address: DEFAULT_ADDRESS, ...sensor } as SensorIOOptions);
    const where = `I2C address 0x${(sensor.address ?? DEFAULT_ADDRESS).toString(16)}`;
    // A soft reset puts a part left in periodic mode by an earlier run back into single-shot mode.
    try {
      this.#send(Command.SOFT_RESET);
    } catch {
      this.#io.close();
      throw new Error(`SHT3x not found at ${where}`);
    }
    this.#delay(SOFT_RESET_MS);
    const status = this.#buffer.subarray(0, WORD_BYTES);
    try {
      this.#send(Command.READ_STATUS);
      this.#delay(IDLE_MS);
      this.#io.read(status);
    } catch {
      this.#io.close();
      throw new Error(`SHT3x at ${where} did not answer the status register read`);
    }
    // Another part at this address would not answer 0xF32D with a word and its Sensirion CRC.
    if (sensirionCrc8(status, 0) !== status[2]) {
      this.#io.close();
      throw new Error(`SHT3x at ${where}: status register CRC mismatch, not an SHT3x?`);
    }
  }

  configure(options: SHT3xConfiguration): void {
    const { repeatability } = options;
    if (repeatability !== undefined) {
      if (typeof repeatability !== "string" || !Object.hasOwn(MeasureCommand, repeatability))
        throw new RangeError(`SHT3x: invalid repeatability ${String(repeatability)} (expected "high", "medium" or "low")`);
      this.#repeatability = repeatability;
    }
  }

  /** One single-shot measurement; a field whose word fails its CRC is left out, and onError told why. */
  sample(): HumiditySample {
    const sample: HumiditySample = {};
    try {
      this.#send(MeasureCommand[this.#repeatability]);
    } catch (error) {
      this.#fault(`SHT3x measurement command failed: ${(error as Error).message}`);
      return sample;
    }
    this.#delay(MeasureMs[this.#repeatability]);
    for (let attempt = 1; ; attempt++) {
      try {
        this.#io.read(this.#buffer);
        break;
      } catch (error) {
        if (attempt === READ_ATTEMPTS) {
          this.#fault(`SHT3x read failed after ${READ_ATTEMPTS} attempts: ${(error as Error).message}`);
          return sample;
        }
        this.#delay(IDLE_MS);
      }
    }
    const temperature = this.#word(0, "temperature");
    if (temperature >= 0) sample.temperature = celsiusFromRaw(temperature);
    const humidity = this.#word(WORD_BYTES, "humidity");
    if (humidity >= 0) sample.humidity = humidityFromRaw(humidity);
    return sample;
  }

  close(): void {
    this.#io.close();
  }

  /** The data word at `offset` of the result, or -1 (reported) when its CRC does not match. */
  #word(offset: number, field: string): number {
    const buffer = this.#buffer;
    const word = (buffer[offset] << 8) | buffer[offset + 1];
    const expected = sensirionCrc8(buffer, offset);
    if (expected === buffer[offset + 2]) return word;
    this.#fault(`SHT3x ${field} CRC mismatch: word 0x${word.toString(16)} came with 0x${buffer[offset + 2].toString(16)}, expected 0x${expected.toString(16)}`);
    return -1;
  }

  #send(command: number): void {
    this.#command[0] = command >> 8;
    this.#command[1] = command & 0xff;
    this.#io.write(this.#command);
  }

  #fault(message: string): void {
    this.errors++;
    this.#onError?.(message);
  }
}
