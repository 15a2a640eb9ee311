import { test } from "uvu";
import * as assert from "uvu/assert";
import TMP117 from "../../modules/sensors/tmp117.js";
import { I2cBus } from "../../simulator/engine/i2c-bus.js";
import { TMP117_ADDRESS, Tmp117Model } from "../../simulator/sensors/tmp117-model.js";
import { i2cOn } from "../support/bus-i2c.js";

function rig(celsius = 25) {
  const bus = new I2cBus();
  let temperature = celsius;
  const model = new Tmp117Model({ temperature: () => temperature });
  bus.attach(TMP117_ADDRESS, model);
  const errors: string[] = [];
  const sensor = new TMP117({ sensor: { io: i2cOn(bus), address: TMP117_ADDRESS }, onError: (m) => errors.push(m) });
  return { bus, model, sensor, errors, set: (c: number) => (temperature = c) };
}

test("result register encodings from the datasheet's temperature data format table", () => {
  // SNOSD82 table 7-? "Temperature Register Format": 7.8125 m°C per LSB, two's complement.
  const cases: Array<[number, number]> = [
    [0x7fff, 255.9921875], [0x3200, 100], [0x0c80, 25], [0x0001, 0.0078125],
    [0x0000, 0], [0xffff, -0.0078125], [0xf380, -25], [0xec00, -40],
  ];
  for (const [raw, celsius] of cases) {
    assert.is(Tmp117Model.encode(celsius), raw, `model encodes ${celsius} °C`);
    const { sensor, set } = rig();
    set(celsius);
    assert.is(sensor.sample().temperature, celsius, `driver decodes 0x${raw.toString(16)}`);
  }
});

test("the driver refuses a part whose device id is not the TMP117's", () => {
  const bus = new I2cBus();
  const model = new Tmp117Model({ temperature: () => 20 });
  model.registers[0x0f] = 0x0119;
  bus.attach(TMP117_ADDRESS, model);
  assert.throws(() => new TMP117({ sensor: { io: i2cOn(bus), address: TMP117_ADDRESS } }), /expected device id 0x117, read 0x119/);
});

test("a missing part is a clear error at construction", () => {
  const bus = new I2cBus();
  assert.throws(() => new TMP117({ sensor: { io: i2cOn(bus), address: 0x49 } }), /TMP117 not found at I2C address 0x49/);
});

test("a NACK while sampling goes to onError, is counted, and the field is left out", () => {
  const { sensor, model, errors } = rig(21.5);
  assert.is(sensor.sample().temperature, 21.5);
  model.unplugged = true;
  const sample = sensor.sample();
  assert.not.ok("temperature" in sample);
  assert.is(sensor.errors, 1);
  assert.match(errors[0], /TMP117 read failed/);
  model.unplugged = false;
  assert.is(sensor.sample().temperature, 21.5);
});

test("before the first conversion the reset value is reported, not -256 °C", () => {
  const { sensor, model, errors } = rig();
  model.registers[0] = 0x8000;
  model.converting = true;
  assert.equal(sensor.sample(), {});
  assert.match(errors[0], /no conversion result yet/);
});

test("configure sets the mode and averaging bits and validates them", () => {
  const { sensor, model } = rig();
  sensor.configure({ mode: "shutdown", averaging: 64 });
  assert.is((model.registers[1] >> 10) & 0b11, 0b01);
  assert.is((model.registers[1] >> 5) & 0b11, 0b11);
  sensor.configure({ mode: "continuous" });
  assert.is((model.registers[1] >> 10) & 0b11, 0b00);
  assert.throws(() => sensor.configure({ averaging: 16 as never }), /invalid averaging 16/);
  assert.throws(() => sensor.configure({ mode: "fast" as never }), /invalid mode fast/);
});

test.run();
