/*
 * A fleet of simulated devices: each runs the device bundle in its own
 * xsnap-worker, with a sensor part's register model on its I2C bus, its own
 * clock, and its own preferences and flash partition in files, so sequence
 * numbers and the flash log continue across simulator runs as they would
 * across a board's reboots.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "../hosts/log/logger.js";
import type { SensorPart } from "../modules/app/parts.js";
import type { BlockDevice } from "../modules/storage/block-device.js";
import { RealClock, type HostClock } from "./engine/host-clock.js";
import type { I2cTarget } from "./engine/i2c-bus.js";
import { PreferenceStore } from "./engine/preference-store.js";
import { SimulatedDevice } from "./engine/simulated-device.js";
import { attachSensorModel } from "./sensors/sensor-models.js";
import { FileFlash } from "./storage/file-flash.js";
import { loginEventOf, type LoginEvent } from "./login-report.js";
import { NorFlash } from "./storage/nor-flash.js";

export const DEVICE_BUNDLE = fileURLToPath(new URL("../../build/sim/device.js", import.meta.url));
/** The flash log's partition on a simulated device: 16 sectors of 4 KB, the size the flash-life figure assumes. */
export const SIM_FLASH = Object.freeze({ partition: "xsedge", blockSize: 4096, blocks: 16 });
/** npm start shows one of each part. */
export const SENSOR_ROTATION: readonly SensorPart[] = ["tmp117", "sht3x", "bme280"];

export function loadDeviceBundle(path = DEVICE_BUNDLE): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new Error(`device bundle ${path} is missing: run "npm run build" (${(error as Error).message})`);
  }
}

export interface FleetOptions {
  count: number;
  /** The devices' sensor ids, in order (count of them); by default `${idPrefix}-${n}`. */
  sensorIds?: readonly string[];
  gatewayAddress: string;
  gatewayPort: number;
  samplePeriodMs: number;
  /** Sensor ids are `${prefix}-${n}`, n from 1. */
  idPrefix?: string;
  /** The part on device n; by default TMP117, SHT3x and BME280 in turn. */
  sensorFor?: (n: number) => SensorPart;
  /** Where each device keeps its preferences and flash; none means a factory-fresh device every run. */
  dataDir?: string;
  /** Per-device secrets, for a gateway that authenticates devices. */
  secretFor?: (sensorId: string) => string | undefined;
  /** Further mc/config values for every device. */
  config?: Record<string, unknown>;
  /** One clock for every device (a virtual clock in tests); each gets its own real clock otherwise. */
  clock?: HostClock;
  logger?: Logger;
  onTrace?: (sensorId: string, line: string) => void;
  /** Each device traces every sample it takes; by default only when onTrace is given. */
  traceSamples?: boolean;
  /** A device's login outcome, as it traces it: connected, or refused with the CONNACK code. */
  onLogin?: (sensorId: string, event: LoginEvent) => void;
  bundle?: string;
}

export interface SimulatedSensor {
  sensorId: string;
  part: SensorPart;
  device: SimulatedDevice;
  model: I2cTarget;
  flash: BlockDevice;
}

function flashFor(dataDir: string | undefined, sensorId: string): BlockDevice {
  const geometry = { blockSize: SIM_FLASH.blockSize, blocks: SIM_FLASH.blocks };
  return dataDir ? new FileFlash(join(dataDir, sensorId, "flash.bin"), geometry) : new NorFlash(geometry);
}

export async function startFleet(options: FleetOptions): Promise<SimulatedSensor[]> {
  if (!Number.isInteger(options.count) || options.count < 1) throw new RangeError(`device count must be a positive integer, got ${options.count}`);
  const bundle = options.bundle ?? loadDeviceBundle();
  const prefix = options.idPrefix ?? "sim";
  if (options.sensorIds !== undefined && options.sensorIds.length !== options.count) throw new RangeError(`${options.sensorIds.length} sensor ids for ${options.count} devices`);
  const sensors: SimulatedSensor[] = [];
  try {
    for (let n = 1; n <= options.count; n++) {
      const sensorId = options.sensorIds?.[n - 1] ?? `${prefix}-${n}`;
      const part = options.sensorFor?.(n) ?? SENSOR_ROTATION[(n - 1) % SENSOR_ROTATION.length];
      const flash = flashFor(options.dataDir, sensorId);
      const device: SimulatedDevice = new SimulatedDevice({
        name: sensorId,
        bundle,
        clock: options.clock ?? new RealClock(),
        logger: options.logger,
        preferences: new PreferenceStore(options.dataDir ? join(options.dataDir, sensorId, "preferences.json") : undefined),
        flash: { [SIM_FLASH.partition]: flash },
        config: {
          sensorId,
          sensor: part,
          gatewayAddress: options.gatewayAddress,
          gatewayPort: options.gatewayPort,
          samplePeriodMs: options.samplePeriodMs,
          secret: options.secretFor?.(sensorId),
          flashPartition: SIM_FLASH.partition,
          traceSamples: options.traceSamples ?? options.onTrace !== undefined,
          ...options.config,
        },
        onTrace: (line) => {
          const login = options.onLogin && loginEventOf(line.trimEnd());
          if (login) options.onLogin!(sensorId, login);
          options.onTrace?.(sensorId, line);
        },
      });
      const model = attachSensorModel(device.i2c, part, n, () => device.clock.now());
      sensors.push({ sensorId, part, device, model, flash });
      await device.start();
    }
  } catch (error) {
    await stopFleet(sensors);
    throw error;
  }
  return sensors;
}

export async function stopFleet(sensors: SimulatedSensor[]): Promise<void> {
  await Promise.all(sensors.map((sensor) => sensor.device.stop()));
  for (const sensor of sensors) if (sensor.flash instanceof FileFlash) sensor.flash.close();
}
