/*
 * Real time: each worker steps against the machine's clock
 * (realtime-stepper.ts), and each device's sockets are real connections
 * (../network/socket-bridge.ts) under its link conditions.
 */
import { Input } from "../engine/fleet-worker.js";
import { MAX_STEP_INPUT_BYTES } from "../xs-fleet/fleet-protocol.js";
import { PERFECT_LINK, type LinkConditions } from "../network/link-conditions.js";
import { SocketBridge } from "../network/socket-bridge.js";
import type { FleetEngine } from "./fleet-engine.js";
import type { FleetDriver, FleetNetwork, StepHooks } from "./fleet-driver.js";
import type { Lateness } from "./fleet-stats.js";
import { RealTimeStepper } from "./realtime-stepper.js";

export class RealTimeDriver implements FleetDriver {
  readonly #steppers: RealTimeStepper[] = [];

  now(): number {
    return Date.now();
  }

  attach(engine: FleetEngine, hooks: StepHooks): void {
    engine.workers.forEach((worker, w) => {
      const stepper = new RealTimeStepper(worker, (result) => hooks.afterStep(w, result), (error) => {
        engine.logger?.error("fleet worker failed a step", { worker: worker.name, error });
      }, () => hooks.beforeStep(w));
      this.#steppers.push(stepper);
    });
  }

  wake(worker: number): void {
    this.#steppers[worker]?.wake();
  }

  async settled(): Promise<void> {
    await Promise.all(this.#steppers.map((s) => s.settled()));
  }

  lateness(): Lateness[] {
    return this.#steppers.map((s) => s.lateness);
  }

  async stop(): Promise<void> {
    await Promise.all(this.#steppers.map((s) => s.stop()));
  }
}

/** Real sockets for the fleet's devices, under link conditions (by default none: a perfect loopback). */
export class RealNetwork implements FleetNetwork {
  readonly bridge: SocketBridge;
  #engine: FleetEngine | undefined;
  #base: LinkConditions;
  readonly #perDevice = new Map<number, LinkConditions>();

  constructor(conditions: LinkConditions = PERFECT_LINK, seed = 1) {
    this.#base = conditions;
    this.bridge = new SocketBridge({
      seed,
      conditions: (device) => this.conditionsOf(device),
      congested: () => this.#engine?.workers.some((w) => w.pendingInputBytes > MAX_STEP_INPUT_BYTES) ?? false,
      events: {
        writable: (device, socket, count) => this.#input(device, Input.TCP_WRITABLE).u16(socket).u32(count),
        data: (device, socket, bytes) => {
          this.#engine!.devices[device].counters.bytesIn += bytes.byteLength;
          this.#input(device, Input.TCP_DATA).u16(socket).sized(bytes);
        },
        error: (device, socket, reason) => {
          this.#engine!.devices[device].counters.socketErrors++;
          this.#input(device, Input.TCP_ERROR).u16(socket).text(reason);
        },
      },
    });
  }

  /** The engine whose devices' inputs the sockets' events become. */
  bind(engine: FleetEngine): void {
    this.#engine = engine;
  }

  /** Conditions for every device without its own. */
  setConditions(conditions: LinkConditions): void {
    this.#base = conditions;
  }

  setDeviceConditions(device: number, conditions: LinkConditions | undefined): void {
    if (conditions) this.#perDevice.set(device, conditions);
    else this.#perDevice.delete(device);
  }

  conditionsOf(device: number): LinkConditions {
    const conditions = this.#perDevice.get(device) ?? this.#base;
    return this.#engine?.devices[device]?.networkDown ? { ...conditions, partitioned: true } : conditions;
  }

  conditionsChanged(device: number): void {
    if (!this.conditionsOf(device).partitioned) this.bridge.heal(device);
  }

  open(device: number, socket: number, address: string, port: number): void {
    this.bridge.open(device, socket, address, port);
  }

  write(device: number, socket: number, bytes: Uint8Array): void {
    this.bridge.write(device, socket, bytes);
  }

  close(device: number, socket: number): void {
    this.bridge.close(device, socket);
  }

  closeDevice(device: number): void {
    this.bridge.closeDevice(device);
  }

  closeAll(): void {
    this.bridge.closeAll();
  }

  afterStep(): void {
    this.bridge.settleWindows();
    this.bridge.resume();
  }

  #input(device: number, kind: number) {
    const engine = this.#engine!;
    const d = engine.devices[device];
    const writer = engine.workers[d.worker].input(kind, device, Date.now());
    engine.driver.wake(d.worker);
    return writer;
  }
}
