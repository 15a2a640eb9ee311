/*
 * What a scenario runs in: a fleet, a gateway, a cloud and a clock. The
 * virtual world (virtual-world.ts) models the gateway and the cloud on a
 * virtual clock; the real world (real-world.ts) runs the real gateway in a
 * process of its own with the reference cloud, in real time. The runner
 * drives either through this interface, in scenario time (ms since start).
 */
import type { FleetEngine, FleetEvents } from "../fleet/fleet-engine.js";
import type { DeviceSpec } from "../fleet/fleet-device.js";
import type { LinkConditions } from "../network/link-conditions.js";
import type { CloudView } from "./expectations.js";

export interface WorldSummary {
  gateway: Record<string, number | string | boolean>;
  cloud: Record<string, number | string | boolean>;
  network: Record<string, number | string | boolean>;
}

export interface World extends CloudView {
  readonly time: "virtual" | "real";
  /** The address and port the devices publish to. */
  readonly gatewayAddress: string;
  readonly gatewayPort: number;
  /** The fleet, once started. */
  readonly engine: FleetEngine;
  startFleet(specs: DeviceSpec[], events: FleetEvents): Promise<void>;
  /** The fleet's clock reading (ms since the epoch) at the scenario's start. */
  readonly origin: number;
  /** Scenario time: ms since the start. */
  now(): number;
  /** Runs `run` at scenario time `at`. */
  schedule(at: number, run: () => void): void;
  /** Lets scenario time run to `until`; `progress` hears how far it got. */
  runUntil(until: number, progress: (at: number) => void): Promise<void>;
  setCloud(up: boolean): Promise<void>;
  stopGateway(how: "kill" | "restart"): Promise<void>;
  startGateway(): Promise<void>;
  /** A device's link conditions from now on (undefined: the scenario's again). */
  setDeviceConditions(device: number, conditions: LinkConditions | undefined): void;
  /** Publishes the gateway delayed or refused for their rate; undefined where it cannot tell. */
  rateLimited(): Promise<number | undefined>;
  summary(): WorldSummary;
  close(): Promise<void>;
}
