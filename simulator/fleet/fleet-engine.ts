/*
 * A fleet of simulated devices on the real XS engine, many per
 * xsnap-worker: every worker starts from one snapshot (the fleet runtime
 * and the app bundles compiled once), each device runs in a Compartment of
 * its own there, and the host keeps each device's storage, its sockets and
 * its life. The number of workers follows the cores and the fleet's size.
 *
 * Time is driven by a FleetDriver: the machine's clock (real sockets to a
 * real gateway), or a virtual clock (virtual-driver.ts) that runs a day in
 * seconds against a simulated network.
 */
import { availableParallelism } from "node:os";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "../../hosts/log/logger.js";
import { FleetWorker, Input } from "../engine/fleet-worker.js";
import { CUT_KINDS } from "../xs-fleet/fleet-protocol.js";
import type { PartChange } from "../sensors/part-builder.js";
import type { LinkConditions } from "../network/link-conditions.js";
import { AppCatalog, prepareSnapshot } from "./fleet-apps.js";
import { FleetDevice, type DeviceSpec } from "./fleet-device.js";
import { fleetCost, Lateness, type CostReading, type FleetCost } from "./fleet-stats.js";
import { deviceOutputs, heldOutputs, type HeldOutput } from "./device-outputs.js";
import type { FleetDriver, FleetNetwork } from "./fleet-driver.js";

/** A worker holds at least this many devices before another is started. */
export const MIN_DEVICES_PER_WORKER = 100;
/** At most this many per worker: a collection marks a worker's whole heap, so its pauses grow with it. */
export const MAX_DEVICES_PER_WORKER = 2500;
/** Boots a worker takes per step in real time: a boot (mounting the flash log) costs milliseconds of XS. */
export const BOOTS_PER_STEP = 20;

/** Workers for a fleet of `devices` on this machine: one per core, more when the fleet is large. */
export function workersFor(devices: number, cores = availableParallelism()): number {
  return Math.max(1, Math.min(Math.ceil(devices / MIN_DEVICES_PER_WORKER), Math.max(cores, Math.ceil(devices / MAX_DEVICES_PER_WORKER))));
}

const seedOf = (device: FleetDevice) => (device.spec.seed ?? device.index + 1) >>> 0;

export interface FleetEvents {
  trace?(device: FleetDevice, line: string, at: number): void;
  uncaught?(device: FleetDevice, text: string, at: number): void;
  /** The device stopped by itself (a power cut landed in a flash operation). */
  halted?(device: FleetDevice, reason: string, at: number): void;
}

export interface FleetEngineOptions {
  devices: DeviceSpec[];
  driver: FleetDriver;
  network: FleetNetwork;
  /** Workers to run; by default workersFor(devices). */
  workers?: number;
  events?: FleetEvents;
  logger?: Logger;
}

export interface ProbeResult {
  halted: boolean;
  timers: number;
  sockets: number;
  parts: Array<{ address: number; values: Record<string, number> | null }>;
}

export class FleetEngine {
  readonly devices: FleetDevice[] = [];
  readonly workers: FleetWorker[] = [];
  readonly apps = new AppCatalog();
  readonly driver: FleetDriver;
  readonly network: FleetNetwork;
  readonly #byId = new Map<string, FleetDevice>();
  readonly #options: FleetEngineOptions;
  readonly #compiled: Array<Set<number>> = [];
  readonly #probes = new Map<number, Array<(result: ProbeResult) => void>>();
  /** Per worker: devices waiting to boot, and devices booted but not yet through a step. */
  readonly #bootQueue: FleetDevice[][] = [];
  readonly #booting: Array<Set<FleetDevice>> = [];
  #bootsPerStep = BOOTS_PER_STEP;
  #snapshotDir: string | undefined;
  #closed = false;
  #failure: string | undefined;
  /** Outputs held until flushOutputs, when the driver orders them. */
  readonly #held: HeldOutput[] = [];

  private constructor(options: FleetEngineOptions) {
    this.#options = options;
    this.driver = options.driver;
    this.network = options.network;
  }

  static async start(options: FleetEngineOptions): Promise<FleetEngine> {
    const engine = new FleetEngine(options);
    try {
      await engine.#start();
    } catch (error) {
      await engine.close();
      throw error;
    }
    return engine;
  }

  get logger(): Logger | undefined {
    return this.#options.logger;
  }

  device(sensorId: string): FleetDevice {
    const device = this.#byId.get(sensorId);
    if (!device) throw new RangeError(`no simulated device "${sensorId}"`);
    return device;
  }

  has(sensorId: string): boolean {
    return this.#byId.has(sensorId);
  }

  /** Boots the device (again): a new compartment, the same flash and preferences. */
  powerOn(device: FleetDevice): void {
    if (device.state === "booting" || device.state === "running") return;
    const worker = this.workers[device.worker];
    const compiled = this.#compiled[device.worker];
    const links = this.apps.linksOf(device.spec.modules, device.spec.valueDrivers?.specifiers);
    for (const id of [this.apps.idOf(device.spec.app), ...Object.values(links.modules)]) {
      if (compiled.has(id)) continue;
      compiled.add(id);
      worker.compile(id, this.apps.source(id), this.driver.now());
    }
    device.state = "booting";
    device.counters.boots++;
    this.#bootQueue[device.worker].push(device);
    this.driver.wake(device.worker);
  }

  /** Boots taken per worker per step: all at once in virtual time (boots cost no wall-clock lateness there). */
  set bootsPerStep(count: number) {
    this.#bootsPerStep = Math.max(1, count);
  }

  /** Devices still waiting for their boot to be handled. */
  get bootsPending(): number {
    let pending = 0;
    for (let w = 0; w < this.workers.length; w++) pending += this.#bootQueue[w].length + this.#booting[w].size;
    return pending;
  }

  /** Cuts the device's power where it stands: its sockets vanish, its worker drops it. */
  powerOff(device: FleetDevice): void {
    if (device.state === "off") return;
    const queue = this.#bootQueue[device.worker];
    if (queue.includes(device)) queue.splice(queue.indexOf(device), 1);
    this.#booting[device.worker].delete(device);
    device.state = "off";
    this.network.closeDevice(device.index, this.driver.now());
    this.workers[device.worker].input(Input.HALT, device.index, this.driver.now());
    this.driver.wake(device.worker);
  }

  /** Cuts or restores the device's network (a partition of its link). */
  setNetwork(device: FleetDevice, up: boolean): void {
    device.networkDown = !up;
    this.network.conditionsChanged(device.index, this.driver.now());
  }

  conditions(device: number): LinkConditions {
    return this.network.conditionsOf(device);
  }

  /**
   * Arms a power cut in the device's flash: `operations` more writes or
   * erases (or only those of `kind`) complete, and the next one tears; the
   * device halts there (FleetEvents.halted) and stays off until powerOn.
   */
  cutPowerAfter(device: FleetDevice, operations: number, kind: "any" | "write" | "erase" = "any", seed = seedOf(device)): void {
    if (!Number.isInteger(operations) || operations < 0) throw new RangeError(`invalid operation count ${operations}`);
    this.workers[device.worker].input(Input.POWER_CUT, device.index, this.driver.now()).u32(operations).u8(CUT_KINDS.indexOf(kind)).u32(seed >>> 0);
    this.driver.wake(device.worker);
  }

  updateParts(device: FleetDevice, changes: PartChange[]): void {
    this.workers[device.worker].input(Input.PARTS, device.index, this.driver.now()).text(JSON.stringify(changes));
    this.driver.wake(device.worker);
  }

  /** What the device's parts last measured, its timers and sockets, as its worker sees them. */
  probe(device: FleetDevice): Promise<ProbeResult> {
    return new Promise((resolve) => {
      const waiting = this.#probes.get(device.index) ?? [];
      waiting.push(resolve);
      this.#probes.set(device.index, waiting);
      this.workers[device.worker].input(Input.PROBE, device.index, this.driver.now());
      this.driver.wake(device.worker);
    });
  }

  /** Resolves once every device powered on so far has booted; rejects if a worker died. */
  async booted(): Promise<void> {
    while (this.bootsPending > 0) {
      if (this.#failure) throw new Error(this.#failure);
      if (this.#closed) throw new Error("the fleet was closed before its devices booted");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** The workers' and this process's CPU time and memory now. */
  reading(): CostReading {
    const usage = process.cpuUsage();
    return {
      at: Date.now(),
      workers: this.workers.map((w) => ({ cpuMs: w.cpuMs(), rssBytes: w.rssBytes() })),
      host: { cpuMs: (usage.user + usage.system) / 1000, rssBytes: process.memoryUsage().rss },
    };
  }

  /** Memory per device now and CPU per device-second since `from` (a reading of this fleet's). */
  cost(from?: CostReading): { cost: FleetCost; reading: CostReading } {
    const reading = this.reading();
    return { cost: fleetCost(this.devices.length, from, reading), reading };
  }

  /** How late timers fired in real time, all workers together (since the last reset). */
  lateness(reset = false): Lateness {
    const all = new Lateness();
    for (const l of this.driver.lateness()) {
      all.merge(l);
      if (reset) l.reset();
    }
    return all;
  }

  /** Runs a collection in every worker and returns their live heap slots (a benchmark's figure). */
  async collectGarbage(): Promise<number[]> {
    await this.driver.settled();
    return Promise.all(this.workers.map((w) => w.evaluate("gc()")));
  }

  /** Hands on the outputs held since the last flush, in order of (time, device, what the device did first). */
  flushOutputs(): void {
    const held = this.#held.splice(0);
    held.sort((a, b) => a.at - b.at || a.device - b.device || a.order - b.order);
    for (const output of held) output.run();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.driver.stop();
    this.network.closeAll();
    await Promise.all(this.workers.map((w) => w.close()));
    for (const device of this.devices) device.close();
    if (this.#snapshotDir) rmSync(this.#snapshotDir, { recursive: true, force: true });
  }

  async #start(): Promise<void> {
    const specs = this.#options.devices;
    if (specs.length === 0) throw new RangeError("a fleet needs at least one device");
    const count = Math.max(1, Math.min(specs.length, this.#options.workers ?? workersFor(specs.length)));
    for (const spec of specs) {
      this.apps.idOf(spec.app);
      this.apps.linksOf(spec.modules, undefined);
    }
    this.#snapshotDir = mkdtempSync(join(tmpdir(), "xsedge-fleet-"));
    const snapshot = join(this.#snapshotDir, "fleet.xss");
    await prepareSnapshot(snapshot, this.apps, Math.ceil(specs.length / count));
    const direct = deviceOutputs({
      devices: this.devices, network: this.network, events: this.#options.events ?? {}, logger: this.#options.logger,
      probes: this.#probes, apps: this.apps, powerOn: (device) => this.powerOn(device),
    });
    const outputs = this.driver.ordersOutputs ? heldOutputs(direct, this.#held) : direct;
    for (let w = 0; w < count; w++) {
      const worker = new FleetWorker({
        name: `xsedge-fleet-${w + 1}`,
        snapshot,
        outputs,
        onRequest: (index, at, request) => {
          const device = this.devices[index];
          device.hostNow = at;
          return device.services.handle(request);
        },
        logger: this.#options.logger,
      });
      this.workers.push(worker);
      this.#compiled.push(new Set(Array.from({ length: this.apps.size }, (_, id) => id)));
      this.#bootQueue.push([]);
      this.#booting.push(new Set());
      void worker.exited.then(({ code, signal }) => {
        if (this.#closed) return;
        this.#failure = `fleet worker ${worker.name} exited (code ${code}, signal ${signal})`;
        this.#options.logger?.error("fleet worker exited unexpectedly", { worker: worker.name, code, signal });
      });
    }
    specs.forEach((spec, index) => {
      if (this.#byId.has(spec.sensorId)) throw new RangeError(`two simulated devices are named "${spec.sensorId}"`);
      // Contiguous blocks: neighbours share a worker, and the split repeats for the same fleet.
      const device = new FleetDevice(index, Math.floor((index * count) / specs.length), spec, this.#options.logger);
      this.devices.push(device);
      this.#byId.set(spec.sensorId, device);
    });
    this.driver.attach(this, {
      beforeStep: (worker) => this.#feedBoots(worker),
      afterStep: (worker) => this.#afterStep(worker),
    });
  }

  #feedBoots(worker: number): void {
    const queue = this.#bootQueue[worker];
    const now = this.driver.now();
    for (let n = 0; n < this.#bootsPerStep && queue.length > 0; n++) {
      const device = queue.shift()!;
      const app = this.apps.idOf(device.spec.app);
      device.booting();
      const boot = this.workers[worker].input(Input.BOOT, device.index, now).u16(app).u32(seedOf(device))
        .text(JSON.stringify(device.spec.config)).text(JSON.stringify(device.spec.parts)).text(device.bootPreferences())
        .u8(device.partitions.length);
      for (const { name, image } of device.partitions) {
        boot.text(name).u32(image.blockSize).u32(image.blocks).sized(image.bytes).sized(new Uint8Array(image.eraseCounts.buffer, image.eraseCounts.byteOffset, image.eraseCounts.byteLength));
      }
      boot.text(JSON.stringify(this.apps.linksOf(device.spec.modules, device.spec.valueDrivers?.specifiers)));
      this.#booting[worker].add(device);
    }
    // More to boot: the next step comes as soon as it may.
    if (queue.length > 0) this.driver.wake(worker);
  }

  #afterStep(worker: number): void {
    const booting = this.#booting[worker];
    for (const device of booting) if (device.state === "booting") device.state = "running";
    booting.clear();
    this.network.afterStep();
  }
}
