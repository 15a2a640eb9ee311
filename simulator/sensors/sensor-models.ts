/*
 * Puts the register model of a device's sensor part on its I2C bus, driven
 * by a simulated environment: a daily temperature cycle, humidity that falls
 * as it warms, and slowly drifting pressure, all seeded per device.
 */
import type { I2cBus, I2cTarget } from "../engine/i2c-bus.js";
import type { SensorPart } from "../../modules/app/parts.js";
import { TMP117_ADDRESS, Tmp117Model } from "./tmp117-model.js";
import { SHT3X_ADDRESS, Sht3xModel } from "./sht3x-model.js";
import { BME280_ADDRESS, Bme280Model } from "./bme280-model.js";
import { temperatureProfile } from "./temperature-profile.js";

const DAY_MS = 24 * 60 * 60 * 1000;

export const SENSOR_ADDRESSES: Readonly<Record<SensorPart, number>> = Object.freeze({
  tmp117: TMP117_ADDRESS,
  sht3x: SHT3X_ADDRESS,
  bme280: BME280_ADDRESS,
});

export function attachSensorModel(bus: I2cBus, part: SensorPart, seed: number, now: () => number): I2cTarget {
  const temperature = temperatureProfile({ meanCelsius: 18 + ((seed * 7) % 9), seed });
  const celsius = () => temperature(now());
  // Relative humidity falls as the air warms over the day.
  const humidity = () => Math.min(100, Math.max(0, 55 - 1.5 * (celsius() - 20)));
  const pressure = () => 101_325 + 300 * Math.sin((2 * Math.PI * (now() % (3 * DAY_MS))) / (3 * DAY_MS));
  const model: I2cTarget = part === "sht3x" ? new Sht3xModel({ temperature: celsius, humidity, now })
    : part === "bme280" ? new Bme280Model({ temperature: celsius, pressure, humidity, now })
    : new Tmp117Model({ temperature: celsius });
  bus.attach(SENSOR_ADDRESSES[part], model);
  return model;
}
