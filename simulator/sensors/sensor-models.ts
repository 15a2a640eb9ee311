/*
 * Puts the register model of a device's sensor part on a host-side I2C bus
 * (the one-worker-per-device engine, tests), driven by the same default
 * signals a fleet device gets (part-builder.ts): a daily temperature cycle
 * around a per-device mean, humidity that falls as it warms, and slowly
 * drifting pressure.
 */
import type { I2cBus, I2cTarget } from "../engine/i2c-bus.js";
import type { SensorPart } from "../../modules/app/parts.js";
import { buildParts, PART_ADDRESSES } from "./part-builder.js";

export const SENSOR_ADDRESSES: Readonly<Record<SensorPart, number>> = PART_ADDRESSES;

export function attachSensorModel(bus: I2cBus, part: SensorPart, seed: number, now: () => number): I2cTarget {
  const [built] = buildParts([{ part }], { now, seed });
  bus.attach(built.address, built.target!);
  return built.target!;
}
