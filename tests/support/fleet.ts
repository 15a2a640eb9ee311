/*
 * Fleets for the simulator's tests: a real-time engine on real sockets with
 * every trace, halt and uncaught error recorded, and small app bundles
 * written to a temporary directory (ES modules of build/moddable/main.js's
 * form), so a test can run apps other than the built-in one.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { FleetEngine } from "../../simulator/fleet/fleet-engine.js";
import type { DeviceSpec, FleetDevice } from "../../simulator/fleet/fleet-device.js";
import { SIM_FLASH } from "../../simulator/fleet/fleet-device.js";
import { RealNetwork, RealTimeDriver } from "../../simulator/fleet/realtime-driver.js";
import type { PartSpec } from "../../simulator/sensors/part-builder.js";
import { createMemoryLogger } from "../../hosts/log/logger.js";

export interface RecordedFleet {
  engine: FleetEngine;
  network: RealNetwork;
  traces: Map<string, string[]>;
  halts: Map<string, string[]>;
  uncaught: Map<string, string[]>;
  device(id: string): FleetDevice;
  tracesOf(id: string): string[];
}

function push(map: Map<string, string[]>, key: string, line: string): void {
  const list = map.get(key);
  if (list) list.push(line);
  else map.set(key, [line]);
}

export async function startRecordedFleet(specs: DeviceSpec[], options: { workers?: number } = {}): Promise<RecordedFleet> {
  const traces = new Map<string, string[]>();
  const halts = new Map<string, string[]>();
  const uncaught = new Map<string, string[]>();
  const network = new RealNetwork();
  const engine = await FleetEngine.start({
    devices: specs,
    driver: new RealTimeDriver(),
    network,
    workers: options.workers,
    logger: createMemoryLogger("fleet"),
    events: {
      trace: (d, line) => push(traces, d.sensorId, line),
      halted: (d, reason) => push(halts, d.sensorId, reason),
      uncaught: (d, text) => push(uncaught, d.sensorId, text),
    },
  });
  network.bind(engine);
  return { engine, network, traces, halts, uncaught, device: (id) => engine.device(id), tracesOf: (id) => traces.get(id) ?? [] };
}

/** A device of the built-in app, publishing to `port` on 127.0.0.1. */
export function appDevice(sensorId: string, port: number, config: Record<string, unknown> = {}, parts: PartSpec[] = [{ part: "tmp117" }]): DeviceSpec {
  const sensor = parts[0]?.part ?? "tmp117";
  return {
    sensorId,
    parts,
    config: { sensorId, sensor, gatewayAddress: "127.0.0.1", gatewayPort: port, samplePeriodMs: 20, batchMaxAgeMs: 0, flashPartition: SIM_FLASH.partition, ...config },
  };
}

/** Writes an app bundle of `source` (an ES module whose default export starts the app) into `dir`. */
export function writeBundle(dir: string, name: string, source: string): string {
  const path = join(dir, name);
  writeFileSync(path, source);
  return path;
}
