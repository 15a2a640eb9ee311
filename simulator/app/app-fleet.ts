/*
 * Simulated devices running a user's app (load-app.ts): each its own
 * xsnap-worker with the app's script, the app's register models on its I2C
 * bus and its value models behind the stand-in drivers, its preferences and
 * flash in files under dataDir (so boots and backlogs carry over between
 * runs), and a reboot that power-cycles it: the worker ends, a new one boots
 * the same app on the same flash and preferences.
 */
import { join } from "node:path";
import { loginEventOf, type LoginEvent } from "../login-report.js";
import type { Logger } from "../../hosts/log/logger.js";
import type { BlockDevice } from "../../modules/storage/block-device.js";
import { Request, Status } from "../xs-host/protocol.js";
import { RealClock, type HostClock } from "../engine/host-clock.js";
import { PreferenceStore } from "../engine/preference-store.js";
import { SimulatedDevice } from "../engine/simulated-device.js";
import { FileFlash } from "../storage/file-flash.js";
import { NorFlash } from "../storage/nor-flash.js";
import { SIM_FLASH } from "../fleet.js";
import type { LoadedApp } from "./load-app.js";
import type { ModelContext } from "./models.js";
import { valueModelRequests } from "./value-models.js";

export interface AppFleetOptions {
  app: LoadedApp;
  count: number;
  gatewayAddress: string;
  gatewayPort: number;
  /** The devices' samplePeriodMs; the app's manifest default when absent. */
  samplePeriodMs?: number;
  idPrefix?: string;
  /** The devices' sensor ids, in order (count of them); by default `${idPrefix}-${n}`. */
  sensorIds?: readonly string[];
  dataDir?: string;
  secretFor?: (sensorId: string) => string | undefined;
  /** More mc/config values, over the app's models' own. */
  config?: Record<string, unknown>;
  clock?: HostClock;
  logger?: Logger;
  onTrace?: (sensorId: string, line: string) => void;
  /** Each login the device's trace reports: accepted, or refused with its CONNACK code. */
  onLogin?: (sensorId: string, event: LoginEvent) => void;
}

export class AppDevice {
  readonly sensorId: string;
  readonly flash: BlockDevice;
  readonly preferences: PreferenceStore;
  /** Reboots the app asked for (System.restart). */
  restarts = 0;
  #device: SimulatedDevice;
  readonly #make: () => SimulatedDevice;
  #restarting: Promise<void> | undefined;
  #stopped = false;

  constructor(sensorId: string, flash: BlockDevice, preferences: PreferenceStore, make: (self: AppDevice) => SimulatedDevice) {
    this.sensorId = sensorId;
    this.flash = flash;
    this.preferences = preferences;
    this.#make = () => make(this);
    this.#device = this.#make();
  }

  /** The worker of the current boot. */
  get device(): SimulatedDevice {
    return this.#device;
  }

  start(): Promise<void> {
    return this.#device.start();
  }

  /** After the event that asked for it: the worker is cut off, as power is, and the app boots again. */
  restart(): void {
    this.restarts++;
    this.#restarting = (async () => {
      await this.#device.stop();
      if (this.#stopped) return;
      this.#device = this.#make();
      await this.#device.start();
    })();
  }

  /** Resolves once a reboot under way has booted the app again. */
  async settled(): Promise<void> {
    while (this.#restarting) {
      const pending = this.#restarting;
      await pending;
      if (this.#restarting === pending) this.#restarting = undefined;
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#restarting?.catch(() => {});
    await this.#device.stop();
    if (this.flash instanceof FileFlash) this.flash.close();
  }
}

export async function startAppFleet(options: AppFleetOptions): Promise<AppDevice[]> {
  if (!Number.isInteger(options.count) || options.count < 1) throw new RangeError(`device count must be a positive integer, got ${options.count}`);
  if (options.sensorIds !== undefined && options.sensorIds.length !== options.count) throw new RangeError(`${options.sensorIds.length} sensor ids for ${options.count} devices`);
  const { app } = options;
  const prefix = options.idPrefix ?? "sim";
  const devices: AppDevice[] = [];
  try {
    for (let n = 1; n <= options.count; n++) {
      const sensorId = options.sensorIds?.[n - 1] ?? `${prefix}-${n}`;
      const geometry = { blockSize: SIM_FLASH.blockSize, blocks: SIM_FLASH.blocks };
      const flash = options.dataDir ? new FileFlash(join(options.dataDir, sensorId, "flash.bin"), geometry) : new NorFlash(geometry);
      const preferences = new PreferenceStore(options.dataDir ? join(options.dataDir, sensorId, "preferences.json") : undefined);
      const clock = options.clock ?? new RealClock();
      const make = (self: AppDevice) => {
        const context: ModelContext = { sensorId, seed: n, now: () => clock.now() };
        const values = valueModelRequests(app.models, context);
        const device: SimulatedDevice = new SimulatedDevice({
          name: sensorId,
          bundle: app.script,
          clock,
          logger: options.logger,
          preferences,
          flash: { [SIM_FLASH.partition]: flash },
          config: {
            ...app.models.config,
            sensorId,
            gatewayAddress: options.gatewayAddress,
            gatewayPort: options.gatewayPort,
            ...(options.samplePeriodMs === undefined ? {} : { samplePeriodMs: options.samplePeriodMs }),
            secret: options.secretFor?.(sensorId),
            flashPartition: SIM_FLASH.partition,
            traceSamples: options.onTrace !== undefined,
            ...options.config,
          },
          onTrace: (line) => {
            const login = options.onLogin && loginEventOf(line.trimEnd());
            if (login) options.onLogin!(sensorId, login);
            options.onTrace?.(sensorId, line);
          },
          extraRequests: (op, request, out) => {
            if (op === Request.RESTART) {
              out.u8(Status.OK);
              setImmediate(() => self.restart());
              return true;
            }
            return values(op, request, out);
          },
        });
        for (const [address, model] of Object.entries(app.models.i2c ?? {})) device.i2c.attach(Number(address), model(context));
        return device;
      };
      const device = new AppDevice(sensorId, flash, preferences, make);
      devices.push(device);
      await device.start();
    }
  } catch (error) {
    await stopAppFleet(devices);
    throw error;
  }
  return devices;
}

export async function stopAppFleet(devices: AppDevice[]): Promise<void> {
  await Promise.all(devices.map((d) => d.stop()));
}
