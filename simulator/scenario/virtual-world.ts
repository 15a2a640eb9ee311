/*
 * A scenario's world in virtual time: the fleet on the virtual driver, the
 * virtual network under the scenario's conditions, the gateway model (with
 * the registry of the devices registered) and the cloud model. Nothing in
 * it reads the machine's clock or a real socket, so a run repeats byte for
 * byte for a seed, and a day of it runs in as long as its work takes.
 */
import { StaticRegistry } from "../../hosts/gateway/ingest/sensor-registry.js";
import { FleetEngine, type FleetEvents } from "../fleet/fleet-engine.js";
import type { DeviceSpec } from "../fleet/fleet-device.js";
import { VIRTUAL_EPOCH, VirtualDriver } from "../fleet/virtual-driver.js";
import { CloudModel } from "../gateway-model/cloud-model.js";
import { GatewayModel } from "../gateway-model/gateway-model.js";
import type { LinkConditions } from "../network/link-conditions.js";
import { VirtualNetwork } from "../network/virtual-network.js";
import type { Scenario } from "./scenario-types.js";
import type { World, WorldSummary } from "./world.js";

/** Where the gateway model listens (an address no real socket is opened to). */
export const MODEL_ADDRESS = "10.0.0.1";
export const MODEL_PORT = 1883;
/** Windows are cut into at least this many pieces of progress. */
const PROGRESS_STEPS = 200;

export interface VirtualWorldOptions {
  /** The devices the gateway knows, with their secrets. */
  registered: ReadonlyArray<{ sensorId: string; secret: string }>;
  /** What happens in the gateway and the cloud, for the run's trace. */
  onEvent?: (at: number, event: string, detail: Record<string, unknown>) => void;
}

export class VirtualWorld implements World {
  readonly time = "virtual";
  readonly gatewayAddress = MODEL_ADDRESS;
  readonly gatewayPort = MODEL_PORT;
  readonly driver: VirtualDriver;
  readonly network: VirtualNetwork;
  readonly cloud: CloudModel;
  readonly gateway: GatewayModel;
  readonly #scenario: Scenario;
  readonly #start: number;
  #engine: FleetEngine | undefined;

  constructor(scenario: Scenario, options: VirtualWorldOptions) {
    this.#scenario = scenario;
    this.#start = scenario.startMs ?? VIRTUAL_EPOCH;
    const latencies = [scenario.network.latencyMs, ...scenario.events.flatMap((e) => (e.action.kind === "network" && e.action.conditions.latencyMs !== undefined ? [e.action.conditions.latencyMs] : []))];
    this.driver = new VirtualDriver({ start: this.#start, lookaheadMs: Math.max(1, Math.min(...latencies)) });
    this.network = new VirtualNetwork(this.driver, scenario.network, scenario.seed);
    const relative = (at: number) => at - this.#start;
    this.cloud = new CloudModel(this.driver, {
      latencyMs: Math.max(1, scenario.cloudLatencyMs),
      onReceived: (at, batch, added) => options.onEvent?.(relative(at), "cloud.batch", { observations: batch.length, added }),
    });
    const spec = scenario.gateway.kind === "model" ? scenario.gateway : { commitMs: 5, relayIntervalMs: 200, highWater: undefined, lowWater: undefined };
    this.gateway = new GatewayModel({
      driver: this.driver,
      network: this.network,
      cloud: this.cloud,
      registry: new StaticRegistry(options.registered, () => this.driver.now()),
      commitMs: spec.commitMs,
      relayIntervalMs: spec.relayIntervalMs,
      highWater: spec.highWater,
      lowWater: spec.lowWater,
      onEvent: (at, event, detail) => options.onEvent?.(relative(at), event, detail),
    });
    this.network.listen(MODEL_ADDRESS, MODEL_PORT, this.gateway);
  }

  get origin(): number {
    return this.#start;
  }

  get engine(): FleetEngine {
    if (!this.#engine) throw new Error("the fleet has not started");
    return this.#engine;
  }

  async startFleet(specs: DeviceSpec[], events: FleetEvents): Promise<void> {
    this.#engine = await FleetEngine.start({ devices: specs, driver: this.driver, network: this.network, workers: this.#scenario.workers, events });
    this.network.bind(this.#engine);
    // Boots cost no lateness in virtual time: every device due boots in one window.
    this.#engine.bootsPerStep = specs.length;
  }

  now(): number {
    return this.driver.now() - this.#start;
  }

  schedule(at: number, run: () => void): void {
    this.driver.schedule(this.#start + at, run);
  }

  async runUntil(until: number, progress: (at: number) => void): Promise<void> {
    let reported = -Infinity;
    const step = Math.max(1, (this.#scenario.durationMs + this.#scenario.drainMs) / PROGRESS_STEPS);
    await this.driver.runUntil(this.#start + until, (now) => {
      if (now - reported < step) return;
      reported = now;
      progress(now - this.#start);
    });
    progress(until);
  }

  async setCloud(up: boolean): Promise<void> {
    this.cloud.setUp(up);
  }

  async stopGateway(how: "kill" | "restart"): Promise<void> {
    this.gateway.stop(how);
  }

  async startGateway(): Promise<void> {
    this.gateway.start();
  }

  setDeviceConditions(device: number, conditions: LinkConditions | undefined): void {
    this.network.setDeviceConditions(device, conditions);
    this.network.conditionsChanged(device);
  }

  async rateLimited(): Promise<number | undefined> {
    return undefined;
  }

  entry(sensorId: string, seq: number) {
    const entry = this.cloud.entry(sensorId, seq);
    return entry && { firstAt: entry.firstAt - this.#start, copies: entry.copies, readings: entry.readings };
  }

  summary(): WorldSummary {
    return {
      gateway: { ...this.gateway.stats, unrelayed: this.gateway.unrelayed, up: this.gateway.up },
      cloud: { ...this.cloud.stats, up: this.cloud.up },
      network: { ...this.network.stats, windows: this.driver.rounds },
    };
  }

  async close(): Promise<void> {
    await this.#engine?.close();
  }
}
