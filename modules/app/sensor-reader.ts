/*
 * One face for the three supported parts, so the app's sampling loop fills
 * the same preallocated readings whatever is soldered on. A field a driver
 * left out (a CRC error, a NACK) is simply not in this sample: never invented.
 */
import TMP117 from "../sensors/tmp117.js";
import SHT3x from "../sensors/sht3x.js";
import BME280 from "../sensors/bme280.js";
import type { SensorOptions } from "../sensors/sensor-io.js";
import type { Reading } from "../observation/record.js";
import type { SensorPart } from "./settings.js";

export interface SensorReader {
  readonly part: SensorPart;
  /** Faults the driver reported through onError. */
  readonly errors: number;
  /** Fills `readings` with this sample's values (reusing its objects) and returns how many. */
  read(readings: Reading[]): number;
  close(): void;
}

type Sample = { temperature?: number; humidity?: number; pressure?: number };

const ORDER = ["temperature", "humidity", "pressure"] as const;

export function openSensor(part: SensorPart, sensor: SensorOptions["sensor"], delay: (ms: number) => void, onError: (message: string) => void): SensorReader {
  const options = { sensor, delay, onError };
  const driver: { errors: number; sample(): Sample; close(): void } =
    part === "sht3x" ? new SHT3x(options) : part === "bme280" ? new BME280(options) : new TMP117(options);
  return {
    part,
    get errors() {
      return driver.errors;
    },
    read(readings: Reading[]): number {
      const sample = driver.sample();
      let count = 0;
      for (const quantity of ORDER) {
        const value = sample[quantity];
        if (value === undefined) continue;
        const slot = readings[count];
        slot.quantity = quantity;
        slot.value = value;
        count++;
      }
      return count;
    },
    close: () => driver.close(),
  };
}
