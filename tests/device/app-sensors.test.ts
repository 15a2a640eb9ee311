/*
 * The runtime's sensors and records on Node, with the device's own code
 * below them (the recorder, batch writer, uplink and the FlashLog on the NOR
 * model) and ECMA-419 drivers of the test's own: each sensor on its own
 * timer, its period a setting it follows, a quantity two sensors both give
 * kept to the first, raw samples kept out of the log when the app asks, and
 * an app's record written at once when it must go out now.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { AppSensors } from "../../modules/device/app-sensors.js";
import { SettingsRegistry } from "../../modules/device/app-settings.js";
import { Recorder } from "../../modules/device/recorder.js";
import { Uplink } from "../../modules/device/uplink.js";
import { FlashLog } from "../../modules/storage/flash-log.js";
import { decodeUplinkRecord } from "../../modules/observation/record-decoder.js";
import type { Observation } from "../../modules/observation/record.js";
import { NorFlash } from "../../simulator/storage/nor-flash.js";

class Timers {
  now = 0;
  #next = 1;
  readonly pending = new Map<number, { at: number; every: number; cb: () => void }>();
  set = (cb: () => void, ms: number) => this.#add(cb, ms, 0);
  repeat = (cb: () => void, ms: number) => this.#add(cb, ms, ms);
  clear = (id: unknown) => void this.pending.delete(id as number);
  #add(cb: () => void, ms: number, every: number): number {
    const id = this.#next++;
    this.pending.set(id, { at: this.now + ms, every, cb });
    return id;
  }
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      let due: [number, { at: number; every: number; cb: () => void }] | undefined;
      for (const entry of this.pending) if (entry[1].at <= end && (!due || entry[1].at < due[1].at)) due = entry;
      if (!due) break;
      const [id, timer] = due;
      this.now = timer.at;
      if (timer.every > 0) timer.at += timer.every;
      else this.pending.delete(id);
      timer.cb();
    }
    this.now = end;
  }
}

/** An ECMA-419 driver whose samples the test sets. */
function driver(sample: () => object) {
  return class {
    constructor(readonly options: { sensor: { io: unknown; address?: number } }) {}
    configure(): void {}
    sample(): object {
      return sample();
    }
    close(): void {}
  };
}

function rig(config: Record<string, unknown> = {}) {
  const timers = new Timers();
  const log = FlashLog.mount(new NorFlash({ blockSize: 4096, blocks: 4 }), { policy: "drop-oldest" });
  const uplink = new Uplink({ log, topic: "t", maxInFlight: 8, maxRecordBytes: 255 });
  const store = new Map<string, unknown>();
  const registry = new SettingsRegistry({ get: (d, k) => store.get(`${d}/${k}`), set: (d, k, v) => void store.set(`${d}/${k}`, v) }, config);
  const period = registry.declare("samplePeriodMs", { type: "integer", default: 1000, min: 10, max: 86_400_000 }, "xsedge-config");
  const age = registry.declare("batchMaxAgeMs", { type: "integer", default: 0, min: 0, max: 86_400_000 }, "xsedge-config");
  let seq = 0;
  const recorder = new Recorder({
    sensorId: "s-1", boot: 1, nextSeq: () => ++seq, uplink, uptime: () => timers.now, wallNow: () => 0, timers, batchMaxAgeMs: () => age.value as number,
  });
  const traces: string[] = [];
  const sensors = new AppSensors({
    recorder, registry, timers, trace: (line) => traces.push(line), io: { I2C: class {} }, bus: { data: 21, clock: 22 },
    defaultPeriod: period as never, traceSamples: () => false, logged: () => log.records,
  });
  const observations = (): Observation[] => {
    const out: Observation[] = [];
    const cursor = log.cursor();
    const buffer = new Uint8Array(255);
    for (let n = log.next(cursor, buffer); n >= 0; n = log.next(cursor, buffer)) {
      const record = decodeUplinkRecord(buffer.slice(0, n));
      if (record.kind === "batch") out.push(...record.observations);
      if (record.kind === "observation") out.push(record.observation);
    }
    return out;
  };
  return { timers, sensors, registry, traces, observations };
}

test("each sensor on its own period; the default one follows samplePeriodMs when the gateway changes it", () => {
  const { timers, sensors, registry, observations } = rig();
  sensors.declare("air", driver(() => ({ temperature: 20 })));
  sensors.declare("light", driver(() => ({ illuminance: 300 })), { periodMs: 5000 });
  sensors.start();
  timers.advance(10_000);
  const names = () => observations().map((o) => o.readings[0].quantity);
  assert.is(names().filter((n) => n === "temperature").length, 10);
  assert.is(names().filter((n) => n === "illuminance").length, 2);
  const changes: Array<[string, unknown]> = [["samplePeriodMs", 500]];
  const checked = registry.check(changes);
  assert.ok("values" in checked);
  registry.apply(changes, (checked as { values: number[] }).values);
  timers.advance(5000);
  assert.is(names().filter((n) => n === "temperature").length, 20, "every 500 ms now");
  assert.is(names().filter((n) => n === "illuminance").length, 3, "its own period is its own");
  assert.equal(sensors.describe(), "air every 500 ms, light every 5000 ms");
});

test("a quantity two sensors both give stays the first one's; the second's reading is left out, counted and traced, until it is mapped", () => {
  const { timers, sensors, traces, observations } = rig();
  sensors.declare("inside", driver(() => ({ temperature: 21 })));
  sensors.declare("outside", driver(() => ({ thermometer: { temperature: 5 }, hygrometer: { humidity: 80 } })));
  const board = sensors.quantity("outside_temperature", "Cel", -2);
  sensors.declare("mapped", driver(() => ({ temperature: -3 })), { quantities: { temperature: board } });
  sensors.start();
  timers.advance(1000);
  const readings = observations().map((o) => o.readings);
  assert.equal(readings, [
    [{ quantity: "temperature", value: 21 }],
    [{ quantity: "humidity", value: 80 }],
    [{ quantity: "outside_temperature", value: -3, unit: "Cel" }],
  ]);
  assert.is(sensors.counts().collisions, 1);
  assert.ok(traces.some((t) => t.includes("sensor outside: temperature is already recorded by another sensor")), traces.join(""));
});

test("raw samples kept out of the log (record: false, or onSample returning false); the app's record goes out at once when asked", () => {
  const { timers, sensors, observations } = rig({ batchMaxAgeMs: 60_000 });
  let count = 0;
  sensors.declare("raw", driver(() => ({ temperature: 20 + count++ })), {
    record: false,
    onSample: (sample) => {
      if ((sample as { temperature: number }).temperature >= 22) sensors.record({ state: true }, true);
    },
  });
  sensors.declare("odd", driver(() => ({ illuminance: count })), { onSample: () => count % 2 === 1 });
  sensors.start();
  timers.advance(2000);
  assert.is(observations().length, 0, "the odd ones wait in their batch (60 s), the raw ones are never logged");
  timers.advance(1000);
  assert.equal(observations().map((o) => o.readings), [[{ quantity: "state", value: 1 }]], "the app's record: written at once, alone");
});

test("declarations are checked: a name, a driver class, the board's I/O, no twice; an unknown quantity is refused", () => {
  const { sensors } = rig();
  assert.throws(() => sensors.declare("Bad", driver(() => ({}))), /names are 1 to 15/);
  assert.throws(() => sensors.declare("x", {} as never), /must be a class/);
  assert.throws(() => sensors.declare("x", driver(() => ({})), { io: "SPI" as never }), /no io\.SPI/);
  assert.throws(() => sensors.declare("x", driver(() => ({})), { periodMs: 5 }), /at least 10/);
  sensors.declare("x", driver(() => ({})));
  assert.throws(() => sensors.declare("x", driver(() => ({}))), /declared twice/);
  assert.throws(() => sensors.record({ warmth: 1 }, false), /unknown quantity "warmth"/);
  assert.throws(() => sensors.quantity("temperature", "K", 0), /standard quantity/);
  sensors.seal();
  assert.throws(() => sensors.declare("late", driver(() => ({}))), /declared in the app's setup/);
});

test.run();
