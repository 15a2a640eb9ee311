/*
 * A fleet of simulated devices against a real gateway, as `xsedge sim` and
 * `xsedge up` run them: many devices per xsnap-worker, each in its own
 * Compartment (simulator/fleet/), each with a sensor part's register model
 * on its I2C bus, its own clock, and its own preferences and flash partition
 * in files, so sequence numbers and the flash log continue across simulator
 * runs as they would across a board's reboots. Devices talk MQTT over real
 * sockets, one connection each.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "../hosts/log/logger.js";
import type { SensorPart } from "../modules/app/parts.js";
import { FleetEngine } from "./fleet/fleet-engine.js";
import { FleetDevice, SIM_FLASH, type DeviceSpec } from "./fleet/fleet-device.js";
import { DEFAULT_APP } from "./fleet/fleet-apps.js";
import { RealNetwork, RealTimeDriver } from "./fleet/realtime-driver.js";
import type { LinkConditions } from "./network/link-conditions.js";
import type { FlashImage } from "./storage/flash-image.js";
import type { PartSpec } from "./sensors/part-builder.js";
import type { I2cTarget } from "./engine/i2c-bus.js";
import { loginEventOf, type LoginEvent } from "./login-report.js";
import type { FleetApp } from "./app/app-on-fleet.js";

export { DEFAULT_APP, SIM_FLASH };

/** The one-worker-per-device engine's script (simulator/engine/simulated-device.ts): the benchmark's baseline. */
export const DEVICE_BUNDLE = fileURLToPath(new URL("../../build/sim/device.js", import.meta.url));

export function loadDeviceBundle(path = DEVICE_BUNDLE): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new Error(`device bundle ${path} is missing: run "npm run build" (${(error as Error).message})`);
  }
}
/** npm start shows one of each part. */
export const SENSOR_ROTATION: readonly SensorPart[] = ["tmp117", "sht3x", "bme280"];

export interface FleetOptions {
  count: number;
  /** The devices' sensor ids, in order (count of them); by default `${idPrefix}-${n}`. */
  sensorIds?: readonly string[];
  gatewayAddress: string;
  gatewayPort: number;
  /** The devices' samplePeriodMs; with `project`, the app's own default when left out. */
  samplePeriodMs?: number;
  /** Sensor ids are `${prefix}-${n}`, n from 1. */
  idPrefix?: string;
  /** The part on device n; by default TMP117, SHT3x and BME280 in turn. */
  sensorFor?: (n: number) => SensorPart;
  /**
   * The parts on device n's bus, when they are not just its sensor part:
   * models in the worker (signals, faults), and `host: true` ones answered
   * by `hostPartsFor` (a user's own I2cTarget, running in Node).
   */
  partsFor?: (n: number) => PartSpec[];
  hostPartsFor?: (n: number) => ReadonlyMap<number, I2cTarget>;
  /** Where each device keeps its preferences and flash; none means a factory-fresh device every run. */
  dataDir?: string;
  /** Per-device secrets, for a gateway that authenticates devices. */
  secretFor?: (sensorId: string) => string | undefined;
  /** Further mc/config values for every device. */
  config?: Record<string, unknown>;
  /** The app bundle every device runs (an ES module of build/moddable/main.js's form); the built-in app by default. */
  app?: string;
  /**
   * A user's app (app/app-on-fleet.ts) every device runs, with its models'
   * parts and config, instead of the built-in app and its sensor parts.
   */
  project?: FleetApp;
  /** The app device n runs, when the devices' apps differ (undefined: `project`'s, else the bundle's). */
  projectFor?: (n: number) => FleetApp | undefined;
  /** The app bundle device n runs, when they differ. */
  appFor?: (n: number) => string | undefined;
  /**
   * Power the devices on evenly over this long rather than all at once, so
   * that their samples and batches do not all fall in the same instant (a
   * real fleet's boards were not switched on together); 0 by default.
   */
  bootSpreadMs?: number;
  /** Fleet workers; by default as many as the cores and the fleet's size call for. */
  workers?: number;
  /** Latency, loss and partitions between the devices and the gateway; none by default. */
  network?: LinkConditions;
  logger?: Logger;
  onTrace?: (sensorId: string, line: string) => void;
  /** Each device traces every sample it takes; by default only when onTrace is given. */
  traceSamples?: boolean;
  /** A device's login outcome, as it traces it: connected, or refused with the CONNACK code. */
  onLogin?: (sensorId: string, event: LoginEvent) => void;
}

export interface SimulatedSensor {
  sensorId: string;
  part: SensorPart;
  device: FleetDevice;
  flash: FlashImage;
}

const engines = new WeakMap<readonly SimulatedSensor[], FleetEngine>();

/** The engine running a fleet startFleet returned: its controls (power, network, faults) and costs. */
export function fleetEngine(sensors: readonly SimulatedSensor[]): FleetEngine {
  const engine = engines.get(sensors);
  if (!engine) throw new Error("not a fleet that startFleet started");
  return engine;
}

/** The devices' specs; `hostNow(i)`: device i's clock, for the models a project's devices ask on the host. */
export function deviceSpecs(options: FleetOptions, hostNow: (index: number) => number = () => 0): DeviceSpec[] {
  if (!Number.isInteger(options.count) || options.count < 1) throw new RangeError(`device count must be a positive integer, got ${options.count}`);
  if (options.sensorIds !== undefined && options.sensorIds.length !== options.count) throw new RangeError(`${options.sensorIds.length} sensor ids for ${options.count} devices`);
  const prefix = options.idPrefix ?? "sim";
  return Array.from({ length: options.count }, (_, i) => {
    const n = i + 1;
    const project = options.projectFor?.(n) ?? options.project;
    const sensorId = options.sensorIds?.[i] ?? `${prefix}-${n}`;
    const part = options.sensorFor?.(n) ?? SENSOR_ROTATION[i % SENSOR_ROTATION.length];
    const secret = options.secretFor?.(sensorId);
    const ofProject = project?.partsFor(n, sensorId, () => hostNow(i));
    return {
      sensorId,
      app: options.appFor?.(n) ?? project?.bundle ?? options.app ?? DEFAULT_APP,
      modules: project?.modules,
      valueDrivers: ofProject?.valueDrivers,
      dataDir: options.dataDir ? join(options.dataDir, sensorId) : undefined,
      seed: n,
      parts: ofProject?.parts ?? options.partsFor?.(n) ?? [{ part }],
      hostParts: ofProject?.hostParts ?? options.hostPartsFor?.(n),
      config: {
        ...project?.config,
        sensorId,
        // The built-in app's setting: which of its parts it samples.
        ...(project ? {} : { sensor: part }),
        gatewayAddress: options.gatewayAddress,
        gatewayPort: options.gatewayPort,
        ...(options.samplePeriodMs === undefined ? {} : { samplePeriodMs: options.samplePeriodMs }),
        ...(secret === undefined ? {} : { secret }),
        flashPartition: SIM_FLASH.partition,
        traceSamples: options.traceSamples ?? options.onTrace !== undefined,
        ...options.config,
      },
    };
  });
}

/** Starts the fleet and resolves once every device has booted (run main()). */
export async function startFleet(options: FleetOptions): Promise<SimulatedSensor[]> {
  let engine: FleetEngine | undefined;
  const specs = deviceSpecs(options, (i) => engine?.devices[i].hostNow ?? 0);
  const network = new RealNetwork(options.network);
  engine = await FleetEngine.start({
    devices: specs,
    driver: new RealTimeDriver(),
    network,
    workers: options.workers,
    logger: options.logger,
    events: options.onTrace || options.onLogin ? { trace: (device, line) => {
      const login = options.onLogin && loginEventOf(line.trimEnd());
      if (login) options.onLogin!(device.sensorId, login);
      options.onTrace?.(device.sensorId, line);
    } } : undefined,
  });
  network.bind(engine);
  try {
    const spread = options.bootSpreadMs ?? 0;
    const started = Date.now();
    for (const [i, device] of engine.devices.entries()) {
      const due = started + (spread * i) / engine.devices.length - Date.now();
      if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
      engine.powerOn(device);
    }
    await engine.booted();
  } catch (error) {
    await engine.close();
    throw error;
  }
  const sensors = engine.devices.map((device) => ({
    sensorId: device.sensorId,
    part: device.spec.config.sensor as SensorPart,
    device,
    flash: device.flash,
  }));
  engines.set(sensors, engine);
  return sensors;
}

export async function stopFleet(sensors: SimulatedSensor[]): Promise<void> {
  const engine = engines.get(sensors);
  engines.delete(sensors);
  await engine?.close();
}
