/*
 * What the web UI shows of a fleet: every device's state, flash fill and
 * wear, and for the devices someone is looking at (a page of the table),
 * their parts' last values, probed once a second, with a short history for
 * the charts. A fleet of ten thousand is paged: only what is watched costs
 * a probe.
 */
import type { FleetDevice } from "../fleet/fleet-device.js";
import type { FleetEngine } from "../fleet/fleet-engine.js";
import type { CostReading } from "../fleet/fleet-stats.js";

/** Rows a page may have. */
export const MAX_PAGE = 200;
/** Points of history kept per watched device: five minutes at one a second. */
export const HISTORY_POINTS = 300;
/** A device not asked for in this long is no longer probed. */
const WATCH_MS = 10_000;
const PROBE_MS = 1000;
/** A probe not answered in this long (a virtual clock that stopped) is given up. */
const PROBE_TIMEOUT_MS = 2000;

export interface DeviceRow {
  id: string;
  state: string;
  part: string;
  networkDown: boolean;
  boots: number;
  connects: number;
  socketErrors: number;
  uncaught: number;
  flash: { records: number; fill: number; maxErases: number; totalErases: number };
  /** The parts' last measured values, for a watched device once probed. */
  values: Record<string, number> | null;
  lastTrace: string | null;
}

export interface FleetSnapshot {
  /** The fleet's clock (virtual or real), ms since the epoch. */
  time: number;
  devices: { total: number; running: number; booting: number; off: number; halted: number };
  workers: number;
  cost: { memoryPerDeviceKiB: number; cpuPerDeviceSecondUs: number | null; timersLateP99Ms: number };
  page: { offset: number; limit: number; filter: string; matching: number };
  rows: DeviceRow[];
}

export interface HistoryPoint {
  t: number;
  values: Record<string, number>;
}

export class FleetView {
  readonly #engine: FleetEngine;
  readonly #watched = new Map<string, number>();
  readonly #values = new Map<string, Record<string, number>>();
  readonly #history = new Map<string, HistoryPoint[]>();
  readonly #timer: NodeJS.Timeout;
  #since: CostReading;
  #cost: FleetSnapshot["cost"] = { memoryPerDeviceKiB: 0, cpuPerDeviceSecondUs: null, timersLateP99Ms: 0 };
  #probing = false;

  constructor(engine: FleetEngine) {
    this.#engine = engine;
    this.#since = engine.reading();
    this.#timer = setInterval(() => void this.#tick(), PROBE_MS);
    this.#timer.unref();
  }

  snapshot(offset = 0, limit = 50, filter = ""): FleetSnapshot {
    const engine = this.#engine;
    const counts = { total: engine.devices.length, running: 0, booting: 0, off: 0, halted: 0 };
    for (const d of engine.devices) counts[d.state]++;
    const matching = filter ? engine.devices.filter((d) => d.sensorId.includes(filter)) : engine.devices;
    const page = matching.slice(offset, offset + Math.min(limit, MAX_PAGE));
    const now = Date.now();
    for (const d of page) this.#watched.set(d.sensorId, now);
    return {
      time: engine.driver.now(),
      devices: counts,
      workers: engine.workers.length,
      cost: this.#cost,
      page: { offset, limit, filter, matching: matching.length },
      rows: page.map((d) => this.#row(d)),
    };
  }

  history(id: string): HistoryPoint[] {
    this.#watched.set(id, Date.now());
    return this.#history.get(id) ?? [];
  }

  close(): void {
    clearInterval(this.#timer);
  }

  #row(d: FleetDevice): DeviceRow {
    const flash = d.flashFigures();
    return {
      id: d.sensorId,
      state: d.state,
      part: String(d.spec.config.sensor ?? d.spec.parts[0]?.part ?? "none"),
      networkDown: d.networkDown,
      boots: d.counters.boots,
      connects: d.counters.connects,
      socketErrors: d.counters.socketErrors,
      uncaught: d.counters.uncaught,
      flash: { records: flash.records, fill: Math.round(flash.fill * 1000) / 1000, maxErases: flash.maxErases, totalErases: flash.totalErases },
      values: this.#values.get(d.sensorId) ?? null,
      lastTrace: d.lastTrace ?? null,
    };
  }

  async #tick(): Promise<void> {
    if (this.#probing) return;
    this.#probing = true;
    try {
      const { cost, reading } = this.#engine.cost(this.#since);
      this.#since = reading;
      this.#cost = {
        memoryPerDeviceKiB: Math.round(cost.memoryPerDeviceBytes / 1024),
        cpuPerDeviceSecondUs: Number.isFinite(cost.cpuPerDeviceSecondUs) ? Math.round(cost.cpuPerDeviceSecondUs) : null,
        timersLateP99Ms: this.#engine.lateness(true).quantile(0.99),
      };
      const now = Date.now();
      const watched = [...this.#watched].filter(([id, at]) => {
        if (now - at < WATCH_MS && this.#engine.has(id)) return true;
        this.#watched.delete(id);
        return false;
      });
      await Promise.all(watched.map(async ([id]) => {
        const device = this.#engine.device(id);
        if (device.state !== "running") return;
        let timer: NodeJS.Timeout | undefined;
        const probe = await Promise.race([
          this.#engine.probe(device),
          new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), PROBE_TIMEOUT_MS))),
        ]).finally(() => clearTimeout(timer));
        if (!probe) return;
        const values: Record<string, number> = {};
        for (const part of probe.parts) Object.assign(values, part.values ?? {});
        this.#values.set(id, values);
        const points = this.#history.get(id) ?? [];
        points.push({ t: this.#engine.driver.now(), values });
        if (points.length > HISTORY_POINTS) points.splice(0, points.length - HISTORY_POINTS);
        this.#history.set(id, points);
      }));
    } finally {
      this.#probing = false;
    }
  }
}
