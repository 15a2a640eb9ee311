// SHT3x driver through its command-level model. Section numbers are the SHT3x-DIS datasheet's (version 6, February 2019).
import { test } from "uvu";
import * as assert from "uvu/assert";
import SHT3x, { celsiusFromRaw, humidityFromRaw, sensirionCrc8 } from "../../modules/sensors/sht3x.js";
import { I2cBus } from "../../simulator/engine/i2c-bus.js";
import { SHT3X_ADDRESS, Sht3xModel } from "../../simulator/sensors/sht3x-model.js";
import { i2cOn } from "../support/bus-i2c.js";

/** Half a count of the 16-bit outputs (section 4.13): the most a round trip may lose. */
const HALF_LSB_CELSIUS = 175 / 65535 / 2;
const HALF_LSB_PERCENT = 100 / 65535 / 2;

function rig(address = SHT3X_ADDRESS) {
  const bus = new I2cBus();
  const world = { temperature: 25, humidity: 50, now: 0 };
  const model = new Sht3xModel({ temperature: () => world.temperature, humidity: () => world.humidity, now: () => world.now });
  bus.attach(address, model);
  const errors: string[] = [];
  const delays: number[] = [];
  const hooks = { onDelay: () => {} };
  const sensor = new SHT3x({
    sensor: { io: i2cOn(bus), address },
    delay: (ms) => {
      delays.push(ms);
      world.now += ms;
      hooks.onDelay();
    },
    onError: (m) => errors.push(m),
  });
  return { bus, model, sensor, errors, delays, world, hooks };
}

test("CRC-8 worked example: CRC(0xBEEF) = 0x92 (section 4.12, Table 20)", () => {
  assert.is(sensirionCrc8(Uint8Array.of(0xbe, 0xef), 0), 0x92);
  assert.is(sensirionCrc8(Uint8Array.of(0x00, 0xbe, 0xef), 1), 0x92, "offset honoured");
  assert.is(Sht3xModel.crc8(0xbe, 0xef), 0x92, "the model's independent CRC agrees");
  // Any single flipped bit changes the CRC (a CRC-8 detects all single-bit errors).
  for (let bit = 0; bit < 16; bit++) {
    const word = 0xbeef ^ (1 << bit);
    assert.is.not(sensirionCrc8(Uint8Array.of(word >> 8, word & 0xff), 0), 0x92, `bit ${bit}`);
  }
});

test("conversion endpoints (section 4.13)", () => {
  assert.is(celsiusFromRaw(0), -45);
  assert.is(celsiusFromRaw(65535), 130);
  assert.is(humidityFromRaw(0), 0);
  assert.is(humidityFromRaw(65535), 100);
});

test("conversion endpoints end to end through the bus (section 4.13)", () => {
  const { sensor, world, errors } = rig();
  world.temperature = -45;
  world.humidity = 0;
  assert.equal(sensor.sample(), { temperature: -45, humidity: 0 });
  world.temperature = 130;
  world.humidity = 100;
  assert.equal(sensor.sample(), { temperature: 130, humidity: 100 });
  assert.equal(errors, []);
});

test("round trips across -40..125 °C and 0..100 %RH within half a count (section 4.13, Table 2)", () => {
  const { sensor, world, errors } = rig();
  for (let celsius = -40; celsius <= 125; celsius += 2.37) {
    for (let percent = 0; percent <= 100; percent += 6.7) {
      world.temperature = celsius;
      world.humidity = percent;
      const sample = sensor.sample();
      assert.ok(Math.abs(sample.temperature! - celsius) <= HALF_LSB_CELSIUS, `${celsius} °C read ${sample.temperature}`);
      assert.ok(Math.abs(sample.humidity! - percent) <= HALF_LSB_PERCENT, `${percent} %RH read ${sample.humidity}`);
    }
  }
  assert.equal(errors, []);
  assert.is(sensor.errors, 0);
});

test("construction soft-resets and reads the status register (sections 4.9, 4.11)", () => {
  const { model, delays } = rig(0x45);
  assert.equal(model.commands, [0x30a2, 0xf32d]);
  // tSR is 1.5 ms max (Table 4): the status read must not come sooner, or the part NACKs it.
  assert.ok(delays[0] >= 1.5);
});

test("each repeatability sends its Table 9 command and waits its Table 4 duration", () => {
  const { sensor, model, delays } = rig();
  const cases: Array<["high" | "medium" | "low", number, number]> = [
    ["high", 0x2400, 15.5],
    ["medium", 0x240b, 6.5],
    ["low", 0x2416, 4.5],
  ];
  for (const [repeatability, command, maxMs] of cases) {
    sensor.configure({ repeatability });
    delays.length = 0;
    assert.ok(sensor.sample().temperature !== undefined, repeatability);
    assert.is(model.commands.at(-1), command);
    assert.ok(delays[0] >= maxMs, `${repeatability}: waited ${delays[0]} ms, Table 4 max is ${maxMs} ms`);
    assert.is(delays.length, 1, "ready after the first wait, no retries");
  }
});

test("a bad temperature CRC leaves temperature out, keeps humidity, and is reported (section 4.12)", () => {
  const { sensor, model, errors, world } = rig();
  world.temperature = 21.5;
  world.humidity = 40;
  model.corruptNextCrc = "temperature";
  const sample = sensor.sample();
  assert.not.ok("temperature" in sample);
  assert.ok(Math.abs(sample.humidity! - 40) <= HALF_LSB_PERCENT);
  assert.is(sensor.errors, 1);
  assert.is(errors.length, 1);
  assert.match(errors[0], /SHT3x temperature CRC mismatch/);
  // The next measurement is whole again.
  assert.equal(Object.keys(sensor.sample()).sort(), ["humidity", "temperature"]);
  assert.is(sensor.errors, 1);
});

test("a bad humidity CRC leaves humidity out and keeps temperature (section 4.12)", () => {
  const { sensor, model, errors } = rig();
  model.corruptNextCrc = "humidity";
  const sample = sensor.sample();
  assert.not.ok("humidity" in sample);
  assert.ok(Math.abs(sample.temperature! - 25) <= HALF_LSB_CELSIUS);
  assert.is(sensor.errors, 1);
  assert.match(errors[0], /SHT3x humidity CRC mismatch/);
});

test("a NACK mid-sample (after the command, on the read) leaves both fields out and is counted", () => {
  const { sensor, model, errors, hooks } = rig();
  hooks.onDelay = () => (model.unplugged = true);
  assert.equal(sensor.sample(), {});
  assert.is(sensor.errors, 1);
  assert.match(errors[0], /SHT3x read failed after 3 attempts/);
  hooks.onDelay = () => {};
  model.unplugged = false;
  assert.ok(sensor.sample().humidity !== undefined, "recovers once the part answers again");
});

test("a NACK on the measurement command is reported, nothing is read", () => {
  const { sensor, model, errors, delays } = rig();
  model.unplugged = true;
  delays.length = 0;
  assert.equal(sensor.sample(), {});
  assert.is(sensor.errors, 1);
  assert.match(errors[0], /SHT3x measurement command failed/);
  assert.equal(delays, [], "no wait for a measurement that never started");
});

test("a part still measuring NACKs the read header; the driver retries (section 4.4)", () => {
  const { sensor, errors, delays, world, hooks } = rig();
  // A clock that runs slow: the first wait covers only part of the measurement.
  let first = true;
  hooks.onDelay = () => {
    if (first) world.now -= 2;
    first = false;
  };
  assert.ok(sensor.sample().temperature !== undefined);
  assert.ok(delays.length > 1, "retried after a NACK");
  assert.equal(errors, []);
});

test("a missing part is a clear error at construction", () => {
  const bus = new I2cBus();
  assert.throws(() => new SHT3x({ sensor: { io: i2cOn(bus), address: 0x45 }, delay: () => {} }), /SHT3x not found at I2C address 0x45/);
});

test("another part at the address fails the status CRC check at construction", () => {
  const bus = new I2cBus();
  // Acknowledges everything and reads back 0x00 0x00 0x00: CRC(0x0000) is 0x81, not 0x00.
  bus.attach(0x44, { write: () => true, read: (count) => new Uint8Array(count) });
  assert.throws(() => new SHT3x({ sensor: { io: i2cOn(bus), address: 0x44 }, delay: () => {} }), /status register CRC mismatch/);
});

test("a delay is required", () => {
  const bus = new I2cBus();
  assert.throws(() => new SHT3x({ sensor: { io: i2cOn(bus) } } as never), (e: unknown) => e instanceof TypeError && /options\.delay/.test((e as Error).message));
});

test("configure rejects a bad repeatability with a RangeError naming the option", () => {
  const { sensor } = rig();
  for (const bad of ["ultra", "toString", 2, null]) {
    assert.throws(
      () => sensor.configure({ repeatability: bad as never }),
      (e: unknown) => e instanceof RangeError && /invalid repeatability/.test((e as Error).message),
      String(bad),
    );
  }
});

test.run();
