/*
 * What simulated parts measure and how they fail, through the register
 * models and the real drivers (modules/sensors), on Node: signals as
 * functions of seed and time, faults between bus and model, the part
 * builder, and the BME280 model's inversion against a full bisection.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import SHT3x from "../../modules/sensors/sht3x.js";
import TMP117 from "../../modules/sensors/tmp117.js";
import { I2cBus } from "../../simulator/engine/i2c-bus.js";
import { buildParts, defaultSignals } from "../../simulator/sensors/part-builder.js";
import { FaultyPart } from "../../simulator/sensors/part-faults.js";
import { parseTraceCsv, signal } from "../../simulator/sensors/signal.js";
import { compensateDouble, EXAMPLE_TRIMMING, invert } from "../../simulator/sensors/bme280-model.js";
import { Tmp117Model } from "../../simulator/sensors/tmp117-model.js";
import { i2cOn } from "../support/bus-i2c.js";

test("a sine, a constant and a trace give their value at a time; noise is a function of seed and time, not of how often one asks", () => {
  const sine = signal({ kind: "sine", mean: 20, amplitude: 2, periodMs: 4000, phaseMs: 0 }, 1, 1);
  assert.equal([0, 1000, 2000, 3000].map((t) => Math.round(sine(t) * 1000) / 1000), [20, 22, 20, 18]);
  assert.is(signal({ kind: "constant", value: 7 }, 1, 1)(123), 7);
  const trace = signal({ kind: "trace", points: [[0, 10], [1000, 20], [3000, 0]] }, 1, 1);
  assert.equal([-5, 0, 500, 1000, 2000, 3000, 9000].map(trace), [10, 10, 15, 20, 10, 0, 0]);
  const looped = signal({ kind: "trace", points: [[0, 10], [1000, 20]], loop: true }, 1, 1);
  assert.is(looped(1500), 15);
  const noisy = signal({ kind: "constant", value: 0, noise: 1 }, 42, 3);
  const again = signal({ kind: "constant", value: 0, noise: 1 }, 42, 3);
  const draws = Array.from({ length: 2000 }, (_, i) => noisy(i * 7));
  assert.equal(Array.from({ length: 2000 }, (_, i) => again((1999 - i) * 7)).reverse(), draws, "same seed and time, same value, in any order");
  const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
  const sd = Math.sqrt(draws.reduce((a, b) => a + (b - mean) ** 2, 0) / draws.length);
  assert.ok(Math.abs(mean) < 0.1 && Math.abs(sd - 1) < 0.1, `Gaussian noise of sigma 1: mean ${mean}, sd ${sd}`);
  assert.is.not(signal({ kind: "constant", value: 0, noise: 1 }, 43, 3)(7), noisy(7), "another seed, other noise");
});

test("a random walk repeats for its seed whatever the sampling, and stays within its bounds", () => {
  const spec = { kind: "randomWalk" as const, start: 50, stepMs: 1000, stepSize: 5, min: 40, max: 60 };
  const a = signal(spec, 9, 1);
  const b = signal(spec, 9, 1);
  const everySecond = Array.from({ length: 600 }, (_, i) => a(i * 1000));
  assert.is(b(599_000), everySecond[599], "jumping ahead lands where walking does");
  assert.is(b(10_000), everySecond[10], "and going back starts over the same way");
  assert.ok(everySecond.every((v) => v >= 40 && v <= 60));
  assert.ok(new Set(everySecond).size > 100, "it walks");
});

test("CSV traces read time,value rows (with units, a header, comments) and name the line of a bad one", () => {
  assert.equal(parseTraceCsv("# comment\ntime,c\n0,1\n1.5s,2\n2m,3\n1h,4\n"), [[0, 1], [1500, 2], [120_000, 3], [3_600_000, 4]]);
  assert.throws(() => parseTraceCsv("0,1\n2s,x\n", "t.csv"), /t\.csv:2: expected "time,value", got "2s,x"/);
  assert.throws(() => parseTraceCsv("0,1\n5s,2\n3s,3\n", "t.csv"), /t\.csv:3: times must not go backwards/);
  assert.throws(() => parseTraceCsv("time,value\n", "t.csv"), /t\.csv: no "time,value" rows/);
});

test("faults: NACKs at their rate, a disconnected part acknowledges nothing, corrupted reads, and the SHT3x driver sees bad CRCs", () => {
  const model = new Tmp117Model({ temperature: () => 21 });
  const faulty = new FaultyPart(model, 5, 1);
  faulty.faults = { nack: 0.25 };
  let refused = 0;
  for (let i = 0; i < 4000; i++) if (!faulty.write(Uint8Array.of(0), false)) refused++;
  assert.ok(Math.abs(refused / 4000 - 0.25) < 0.03, `${refused} of 4000 NACKed`);
  faulty.faults = { disconnected: true };
  assert.is(faulty.read(2, true), undefined);
  faulty.faults = { corrupt: 1 };
  assert.ok(faulty.write(Uint8Array.of(0), false));
  const read = faulty.read(2, true)!;
  assert.is(read[1], Tmp117Model.encode(21) & 0xff ^ 0x01, "the last byte flipped");

  const bus = new I2cBus();
  const now = { t: 0 };
  const [sht] = buildParts([{ part: "sht3x", signals: { temperature: { kind: "constant", value: 22 }, humidity: { kind: "constant", value: 40 } }, faults: { badCrc: 1 } }], { now: () => now.t, seed: 3 });
  bus.attach(sht.address, sht.target!);
  const errors: string[] = [];
  const driver = new SHT3x({ sensor: { io: i2cOn(bus), data: 1, clock: 2, hz: 100_000 }, delay: (ms) => (now.t += ms), onError: (e) => errors.push(e) });
  const samples = [driver.sample(), driver.sample()];
  assert.equal(samples.map((s) => Object.keys(s).sort()), [["humidity"], ["temperature"]], "each word's CRC broke in turn; the other value stands");
  assert.equal(errors.length, 2);
  assert.match(errors[0], /CRC/);
});

test("a stuck part keeps its values until the fault clears; the builder places parts at their addresses and keeps host parts for the host", () => {
  const clock = { t: 0 };
  const parts = buildParts([
    { part: "tmp117", signals: { temperature: { kind: "sine", mean: 20, amplitude: 5, periodMs: 10_000 } } },
    { part: "bme280", address: 0x77 },
    { part: "my-lux-sensor", address: 0x23, host: true },
  ], { now: () => clock.t, seed: 1 });
  assert.equal(parts.map((p) => [p.part, p.address, p.target !== undefined]), [["tmp117", 0x48, true], ["bme280", 0x77, true], ["my-lux-sensor", 0x23, false]]);
  const bus = new I2cBus();
  bus.attach(0x48, parts[0].target!);
  const tmp = new TMP117({ sensor: { io: i2cOn(bus), data: 1, clock: 2, hz: 100_000 } });
  clock.t = 2500;
  const before = tmp.sample().temperature!;
  assert.ok(Math.abs(before - 25) < 0.01);
  parts[0].update({ faults: { stuck: true } });
  clock.t = 7500;
  assert.is(tmp.sample().temperature, before, "stuck at the value it had");
  parts[0].update({ faults: {} });
  assert.ok(Math.abs(tmp.sample().temperature! - 15) < 0.01, "free again");
  assert.equal(Object.keys(parts[0].values()), ["temperature"]);
  assert.throws(() => buildParts([{ part: "lm75" }], { now: () => 0, seed: 1 }), /part lm75: no model of it in the simulator/);
  assert.ok(defaultSignals(2).temperature.kind === "sine" && defaultSignals(2).humidity.kind === "sine");
});

test("the BME280 model's inversion, started anywhere, finds what bisecting the whole range finds", () => {
  const bisect = (f: (n: number) => number, target: number, top: number) => {
    const rising = f(top) > f(0);
    let lo = 0;
    let hi = top;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (rising ? f(mid) < target : f(mid) > target) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 && Math.abs(f(lo - 1) - target) <= Math.abs(f(lo) - target) ? lo - 1 : lo;
  };
  const c = EXAMPLE_TRIMMING;
  const temperature = (n: number) => compensateDouble(c, { temperature: n * 2, pressure: 0, humidity: 0 }).temperature;
  const pressure = (n: number) => compensateDouble(c, { temperature: 519888, pressure: n, humidity: 0 }).pressure;
  let start = 0;
  for (let i = 0; i < 400; i++) {
    const celsius = -40 + (i * 125) / 400;
    const expected = bisect(temperature, celsius, (1 << 19) - 1);
    assert.is(invert(temperature, celsius, (1 << 19) - 1), expected, `${celsius} °C from scratch`);
    assert.is(invert(temperature, celsius, (1 << 19) - 1, { start, rising: true }), expected, `${celsius} °C from ${start}`);
    start = (start * 7919 + 104_729) % (1 << 19);
    const pascal = 30_000 + i * 200;
    assert.is(invert(pressure, pascal, (1 << 20) - 1, { start: (i * 2617) % (1 << 20), rising: false }), bisect(pressure, pascal, (1 << 20) - 1), `${pascal} Pa`);
  }
});

test.run();
