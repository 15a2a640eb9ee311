/*
 * One simulated device as the host keeps it while the device runs in a
 * fleet worker: the host's copy of its flash partition (mirrored from every
 * change the worker's chip makes, in a file per device when the fleet has a
 * data directory), its preferences (likewise), the parts modelled on the
 * host, its life (booting, running, off, halted by a power cut) and its
 * counters. Its timers, sockets' state, chip and registers live in the
 * worker; a boot hands the worker the host's copies.
 */
import { join } from "node:path";
import type { Logger } from "../../hosts/log/logger.js";
import { FlashLog } from "../../modules/storage/flash-log.js";
import { HostServices, type ExtraRequests } from "../engine/host-services.js";
import { I2cBus, type I2cTarget } from "../engine/i2c-bus.js";
import { PreferenceStore } from "../engine/preference-store.js";
import type { PartSpec } from "../sensors/part-builder.js";
import { FlashImage } from "../storage/flash-image.js";
import { NorFlash } from "../storage/nor-flash.js";

/** The flash log's partition on a simulated device: 16 sectors of 4 KB, the size the flash-life figure assumes. */
export const SIM_FLASH = Object.freeze({ partition: "xsedge", blockSize: 4096, blocks: 16 });

export type DeviceState = "booting" | "running" | "off" | "halted";

export interface DeviceSpec {
  sensorId: string;
  /** The app bundle (an ES module of build/moddable/main.js's form); the fleet's default app when left out. */
  app?: string;
  /**
   * Modules the app imports beside the Moddable ones, by specifier: the
   * source of one ES module each (a Moddable SDK driver, its own Moddable
   * imports left as imports), compiled once per worker like the bundle.
   */
  modules?: Readonly<Record<string, string>>;
  /**
   * Drivers the app imports that value-level models on the host stand in
   * for: their specifiers, and a maker of the answers to the stand-ins'
   * requests (simulator/app/value-models.ts), called at every boot since the
   * stand-ins open their models anew.
   */
  valueDrivers?: { specifiers: readonly string[]; requests(): ExtraRequests };
  /** What the device's `mc/config` holds. */
  config: Record<string, unknown>;
  /** The parts on its I2C bus, modelled in the worker (and `host: true` ones by `hostParts`). */
  parts: PartSpec[];
  /** Register-level models of the user's own parts, run on the host, by address (see `hostNow` for their clock). */
  hostParts?: ReadonlyMap<number, I2cTarget>;
  /** Where it keeps its flash and preferences; none: a factory-fresh device every run. */
  dataDir?: string;
  /** Seeds its Math.random, its parts' noise and faults, and where a power cut tears. */
  seed?: number;
}

export interface DeviceCounters {
  boots: number;
  traces: number;
  uncaught: number;
  halts: number;
  /** Reboots the app asked for (System.restart). */
  restarts: number;
  connects: number;
  socketErrors: number;
  bytesOut: number;
  bytesIn: number;
  flashWrites: number;
  flashErases: number;
}

export interface FlashFigures {
  /** Unreleased records in the log. */
  records: number;
  /** Share of the partition's record space in use, 0 to 1. */
  fill: number;
  /** Erases of the most-worn block, and of all blocks. */
  maxErases: number;
  totalErases: number;
}

export class FleetDevice {
  readonly index: number;
  readonly sensorId: string;
  readonly spec: DeviceSpec;
  readonly worker: number;
  /** The host's copy of each partition, in the order the worker numbers them. */
  readonly partitions: ReadonlyArray<{ name: string; image: FlashImage }>;
  readonly preferences: PreferenceStore;
  readonly i2c = new I2cBus();
  /** Answers the worker's requests for the parts modelled on the host. */
  readonly services: HostServices;
  readonly counters: DeviceCounters = { boots: 0, traces: 0, uncaught: 0, halts: 0, restarts: 0, connects: 0, socketErrors: 0, bytesOut: 0, bytesIn: 0, flashWrites: 0, flashErases: 0 };
  state: DeviceState = "off";
  /** Whether its network is cut (a control of the UI or a scenario). */
  networkDown = false;
  lastTrace: string | undefined;
  lastUncaught: string | undefined;
  lastHalt: string | undefined;
  /** The device's clock as of its latest request to the host: the time its host-modelled parts answer at. */
  hostNow = 0;
  #values: ExtraRequests | undefined;
  #flashCache: { changes: number; figures: FlashFigures } | undefined;

  constructor(index: number, worker: number, spec: DeviceSpec, logger?: Logger) {
    this.index = index;
    this.worker = worker;
    this.spec = spec;
    this.sensorId = spec.sensorId;
    const geometry = { blockSize: SIM_FLASH.blockSize, blocks: SIM_FLASH.blocks };
    this.partitions = [{ name: SIM_FLASH.partition, image: new FlashImage(geometry, spec.dataDir ? join(spec.dataDir, "flash.bin") : undefined) }];
    this.preferences = new PreferenceStore(spec.dataDir ? join(spec.dataDir, "preferences.json") : undefined);
    for (const [address, target] of spec.hostParts ?? []) this.i2c.attach(address, target);
    this.services = new HostServices({
      name: spec.sensorId, i2c: this.i2c, preferences: this.preferences, flash: {}, logger,
      extraRequests: (op, request, out) => this.#values?.(op, request, out) ?? false,
    });
  }

  /** A new boot: value models are opened anew by the app's stand-ins. */
  booting(): void {
    this.#values = this.spec.valueDrivers?.requests();
  }

  /** The flash log's partition. */
  get flash(): FlashImage {
    return this.partitions[0].image;
  }

  /** The flash log's fill and wear, read from a copy of the partition (so reading changes nothing), cached until it changes. */
  flashFigures(): FlashFigures {
    const image = this.flash;
    if (this.#flashCache?.changes === image.changes) return this.#flashCache.figures;
    let records = 0;
    let fill = 0;
    try {
      const log = FlashLog.mount(new NorFlash({ blockSize: image.blockSize, blocks: image.blocks }, image.bytes));
      const stats = log.stats();
      records = stats.records;
      // One block is always kept free for the ring to move into.
      const usable = (stats.blocks - 1) * stats.blockSize;
      fill = usable > 0 ? Math.min(1, Math.max(0, 1 - stats.bytesFree / usable)) : 0;
    } catch {
      // A partition no log was ever mounted on (the device never booted) reads as empty.
    }
    let maxErases = 0;
    let totalErases = 0;
    for (const count of image.eraseCounts) {
      maxErases = Math.max(maxErases, count);
      totalErases += count;
    }
    const figures = { records, fill, maxErases, totalErases };
    this.#flashCache = { changes: image.changes, figures };
    return figures;
  }

  /** What the worker needs to boot it: preferences as [domain, key, value] with buffers as byte arrays. */
  bootPreferences(): string {
    return JSON.stringify(this.preferences.all().map(([domain, key, value]) => [domain, key, value instanceof Uint8Array ? Array.from(value) : value]));
  }

  close(): void {
    for (const { image } of this.partitions) image.close();
  }
}
