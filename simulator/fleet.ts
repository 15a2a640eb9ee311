/*
 * A fleet of simulated devices: each runs the device bundle in its own
 * xsnap-worker with a TMP117 model on its I2C bus and its own preference
 * file, so sequence numbers continue across simulator runs as they would
 * across a board's reboots.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "../hosts/log/logger.js";
import type { HostClock } from "./engine/host-clock.js";
import { PreferenceStore } from "./engine/preference-store.js";
import { SimulatedDevice } from "./engine/simulated-device.js";
import { TMP117_ADDRESS, Tmp117Model } from "./sensors/tmp117-model.js";
import { temperatureProfile } from "./sensors/temperature-profile.js";

export const DEVICE_BUNDLE = fileURLToPath(new URL("../../build/sim/device.js", import.meta.url));

export function loadDeviceBundle(path = DEVICE_BUNDLE): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new Error(`device bundle ${path} is missing: run "npm run build" (${(error as Error).message})`);
  }
}

export interface FleetOptions {
  count: number;
  gatewayAddress: string;
  gatewayPort: number;
  samplePeriodMs: number;
  /** Sensor ids are `${prefix}-${n}`, n from 1. */
  idPrefix?: string;
  /** Where each device keeps its preferences; none means a factory-fresh device every run. */
  dataDir?: string;
  /** Per-device MQTT credentials, for a gateway that authenticates devices. */
  credentials?: (sensorId: string) => { username: string; password: string } | undefined;
  clock?: HostClock;
  logger?: Logger;
  onTrace?: (sensorId: string, line: string) => void;
  bundle?: string;
}

export interface SimulatedSensor {
  sensorId: string;
  device: SimulatedDevice;
  model: Tmp117Model;
}

export async function startFleet(options: FleetOptions): Promise<SimulatedSensor[]> {
  if (!Number.isInteger(options.count) || options.count < 1) throw new RangeError(`device count must be a positive integer, got ${options.count}`);
  const bundle = options.bundle ?? loadDeviceBundle();
  const prefix = options.idPrefix ?? "sim";
  const sensors: SimulatedSensor[] = [];
  try {
    for (let n = 1; n <= options.count; n++) {
      const sensorId = `${prefix}-${n}`;
      const profile = temperatureProfile({ meanCelsius: 18 + ((n * 7) % 9), seed: n });
      const device: SimulatedDevice = new SimulatedDevice({
        name: sensorId,
        bundle,
        clock: options.clock,
        logger: options.logger,
        preferences: new PreferenceStore(options.dataDir ? join(options.dataDir, sensorId, "preferences.json") : undefined),
        config: {
          sensorId,
          gatewayAddress: options.gatewayAddress,
          gatewayPort: options.gatewayPort,
          samplePeriodMs: options.samplePeriodMs,
          mqttUsername: options.credentials?.(sensorId)?.username,
          mqttPassword: options.credentials?.(sensorId)?.password,
        },
        onTrace: (line) => options.onTrace?.(sensorId, line),
      });
      const model = new Tmp117Model({ temperature: () => profile(device.clock.now()) });
      device.i2c.attach(TMP117_ADDRESS, model);
      sensors.push({ sensorId, device, model });
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
}
