/*
 * What a fleet engine does with its workers' outputs: each device's sockets
 * to the network, its traces and faults to the events and the log, its
 * flash and preferences to the host's copies (files), a restart to a new
 * boot. And, for a driver that orders outputs across workers (virtual
 * time), the same outputs held until they are run in the order of time.
 */
import type { Logger } from "../../hosts/log/logger.js";
import type { FleetOutputs } from "../engine/fleet-worker.js";
import type { AppCatalog } from "./fleet-apps.js";
import type { FleetDevice } from "./fleet-device.js";
import type { FleetNetwork } from "./fleet-driver.js";
import type { FleetEvents, ProbeResult } from "./fleet-engine.js";

/** An output held for its turn: when it happened, on which device, in which order it came. */
export interface HeldOutput {
  at: number;
  device: number;
  order: number;
  run: () => void;
}

/** What the outputs act on: the engine's parts. */
export interface OutputTargets {
  devices: readonly FleetDevice[];
  network: FleetNetwork;
  events: FleetEvents;
  logger: Logger | undefined;
  /** Probes waiting for their device's answer. */
  probes: Map<number, Array<(result: ProbeResult) => void>>;
  apps: AppCatalog;
  powerOn(device: FleetDevice): void;
}

export function deviceOutputs(engine: OutputTargets): FleetOutputs {
  const device = (index: number) => engine.devices[index];
  const { events, logger } = engine;
  return {
    tcpOpen: (index, at, socket, address, port) => {
      device(index).counters.connects++;
      engine.network.open(index, socket, address, port, at);
    },
    tcpWrite: (index, at, socket, bytes) => {
      device(index).counters.bytesOut += bytes.byteLength;
      engine.network.write(index, socket, bytes, at);
    },
    tcpClose: (index, at, socket) => engine.network.close(index, socket, at),
    trace: (index, at, line) => {
      const d = device(index);
      d.counters.traces++;
      d.lastTrace = line;
      events.trace?.(d, line, at);
    },
    uncaught: (index, at, text) => {
      const d = engine.devices[index];
      if (!d) {
        logger?.error("fleet runtime failed", { error: text });
        return;
      }
      d.counters.uncaught++;
      d.lastUncaught = text;
      logger?.error("uncaught exception on device", { device: d.sensorId, error: text });
      events.uncaught?.(d, text, at);
    },
    halted: (index, at, reason) => {
      const d = device(index);
      d.state = "halted";
      d.counters.halts++;
      d.lastHalt = reason;
      engine.network.closeDevice(index, at);
      logger?.info("simulated device halted", { device: d.sensorId, reason });
      events.halted?.(d, reason, at);
    },
    restart: (index, at) => {
      const d = device(index);
      d.counters.restarts++;
      logger?.info("simulated device restarts", { device: d.sensorId });
      // Off in its worker already; power comes back at once, as after a board's reset.
      if (d.state !== "booting" && d.state !== "running") return;
      d.state = "off";
      engine.network.closeDevice(index, at);
      engine.powerOn(d);
    },
    probed: (index, _at, json) => {
      const waiting = engine.probes.get(index);
      engine.probes.delete(index);
      const result = JSON.parse(json) as ProbeResult;
      for (const resolve of waiting ?? []) resolve(result);
    },
    flashWrite: (index, _at, partition, offset, bytes) => {
      const d = device(index);
      d.counters.flashWrites++;
      d.partitions[partition].image.apply(offset, bytes);
    },
    flashErase: (index, _at, partition, block, count, bytes) => {
      const d = device(index);
      d.counters.flashErases++;
      d.partitions[partition].image.erased(block, count, bytes);
    },
    preference: (index, _at, domain, key, value) => {
      const preferences = device(index).preferences;
      if (value === undefined) preferences.delete(domain, key);
      else preferences.set(domain, key, value);
    },
    compiled: (app, error) => {
      if (error) logger?.error("app bundle does not compile in XS", { app: engine.apps.pathOf(app), error });
    },
  };
}

/** The same outputs, held (byte views copied) until the engine flushes them in order. */
export function heldOutputs(outputs: FleetOutputs, held: HeldOutput[]): FleetOutputs {
  const hold = (device: number, at: number, run: () => void) => held.push({ at, device, order: held.length, run });
  return {
    tcpOpen: (d, at, socket, address, port) => hold(d, at, () => outputs.tcpOpen(d, at, socket, address, port)),
    tcpWrite: (d, at, socket, bytes) => {
      const copy = bytes.slice();
      hold(d, at, () => outputs.tcpWrite(d, at, socket, copy));
    },
    tcpClose: (d, at, socket) => hold(d, at, () => outputs.tcpClose(d, at, socket)),
    trace: (d, at, line) => hold(d, at, () => outputs.trace(d, at, line)),
    uncaught: (d, at, text) => hold(d, at, () => outputs.uncaught(d, at, text)),
    halted: (d, at, reason) => hold(d, at, () => outputs.halted(d, at, reason)),
    restart: (d, at) => hold(d, at, () => outputs.restart(d, at)),
    probed: (d, at, json) => outputs.probed(d, at, json),
    compiled: (app, error) => outputs.compiled(app, error),
    flashWrite: (d, at, partition, offset, bytes) => {
      const copy = bytes.slice();
      hold(d, at, () => outputs.flashWrite(d, at, partition, offset, copy));
    },
    flashErase: (d, at, partition, block, count, bytes) => {
      const copy = bytes.slice();
      hold(d, at, () => outputs.flashErase(d, at, partition, block, count, copy));
    },
    preference: (d, at, domain, key, value) => hold(d, at, () => outputs.preference(d, at, domain, key, value)),
  };
}
