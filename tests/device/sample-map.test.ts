/*
 * ECMA-419 samples to readings: flat samples of one-class drivers, samples
 * grouped by sensor class as the Moddable SDK's combined parts return them
 * (the shapes below are those of its drivers), scaling into SenML units,
 * fields left out when a driver left them out, and an app's own mapping.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { DEFAULT_PLAN, mapSample, planFor, readingSlots, type SamplePlan } from "../../modules/device/sample-map.js";
import { declareQuantity, QUANTITIES } from "../../modules/observation/quantities.js";

function readings(plan: SamplePlan, sample: unknown) {
  const slots = readingSlots();
  const count = mapSample(plan, sample, slots);
  return slots.slice(0, count).map(({ quantity, value, unit }) => (unit === undefined ? { quantity, value } : { quantity, value, unit }));
}
const near = (a: number, b: number) => Math.abs(a - b) < 1e-9;
const resolve = (name: string) => {
  const info = QUANTITIES[name];
  if (!info) throw new RangeError(`unknown quantity ${name}`);
  return info;
};

test("one-class drivers: flat samples; properties the standard does not define are left out", () => {
  assert.equal(readings(DEFAULT_PLAN, { temperature: 21.5, alert: 0 }), [{ quantity: "temperature", value: 21.5 }], "the SDK's TMP117");
  assert.equal(readings(DEFAULT_PLAN, { illuminance: 312.5 }), [{ quantity: "illuminance", value: 312.5 }]);
  assert.equal(readings(DEFAULT_PLAN, { O: 209_460 }), [{ quantity: "oxygen", value: 209_460 }], "the SDK's SEN0322");
  assert.equal(readings(DEFAULT_PLAN, { moisture: 0.41 }), [{ quantity: "soil_moisture", value: 0.41 }]);
});

test("combined parts: samples grouped by sensor class, as the SDK's SHT3x, BMP280, MPU6050 and CCS811 return them", () => {
  assert.equal(readings(DEFAULT_PLAN, { hygrometer: { humidity: 45.5 }, thermometer: { temperature: 21.37 } }), [
    { quantity: "temperature", value: 21.37 }, { quantity: "humidity", value: 45.5 },
  ]);
  assert.equal(readings(DEFAULT_PLAN, { barometer: { pressure: 101_325 }, thermometer: { temperature: 20 } }), [
    { quantity: "temperature", value: 20 }, { quantity: "pressure", value: 101_325 },
  ]);
  // Gyroscopes have no SenML unit: left out unless the app maps them.
  assert.equal(readings(DEFAULT_PLAN, { accelerometer: { x: 0.1, y: -0.2, z: 9.81 }, gyroscope: { x: 1, y: 2, z: 3 } }), [
    { quantity: "acceleration_x", value: 0.1 }, { quantity: "acceleration_y", value: -0.2 }, { quantity: "acceleration_z", value: 9.81 },
  ]);
  const ccs = readings(DEFAULT_PLAN, { carbonDioxideGasSensor: { C02: 412 }, vocSensor: { tvoc: 120 } });
  assert.equal(ccs.map((r) => r.quantity), ["co2", "tvoc"]);
  assert.ok(ccs[0].value === 412 && near(ccs[1].value, 0.12), "TVOC in ppb becomes ppm");
});

test("values in the standard's units are scaled to SenML's: µT to T, cm to m; a boolean is 1 or 0", () => {
  const mag = readings(DEFAULT_PLAN, { magnetometer: { x: 25, y: -40, z: 0 } });
  assert.equal(mag.map((r) => r.quantity), ["magnetic_flux_x", "magnetic_flux_y", "magnetic_flux_z"]);
  assert.ok(near(mag[0].value, 25e-6) && near(mag[1].value, -40e-6));
  const proximity = readings(DEFAULT_PLAN, { proximity: { near: true, distance: 12.5, max: 20 } });
  assert.equal(proximity.map((r) => r.quantity), ["distance", "proximity"]);
  assert.ok(near(proximity[0].value, 0.125) && proximity[1].value === 1);
});

test("a field the driver left out, or one that is not a finite number, is not invented", () => {
  assert.equal(readings(DEFAULT_PLAN, { hygrometer: {}, thermometer: { temperature: 21 } }), [{ quantity: "temperature", value: 21 }], "the SDK's SHT3x after a CRC error");
  assert.equal(readings(DEFAULT_PLAN, { temperature: Number.NaN, humidity: "50" }), []);
  assert.equal(readings(DEFAULT_PLAN, {}), []);
  assert.equal(readings(DEFAULT_PLAN, undefined), []);
  assert.equal(readings(DEFAULT_PLAN, { error: "bad CRC check" }), []);
});

test("a quantity the part gives twice (flat and grouped) is read once", () => {
  assert.equal(readings(DEFAULT_PLAN, { temperature: 1, thermometer: { temperature: 2 } }), [{ quantity: "temperature", value: 1 }]);
});

test("the app's mapping: rename to a declared quantity, leave out, map a group only, or name a property of its own", () => {
  const board = declareQuantity("board_temperature", "Cel", -2);
  assert.equal(readings(planFor({ temperature: board }, resolve), { thermometer: { temperature: 30 }, barometer: { pressure: 99_000 } }), [
    { quantity: "board_temperature", value: 30, unit: "Cel" }, { quantity: "pressure", value: 99_000 },
  ]);
  assert.equal(readings(planFor({ humidity: null }, resolve), { hygrometer: { humidity: 40 }, thermometer: { temperature: 20 } }), [{ quantity: "temperature", value: 20 }]);
  assert.equal(readings(planFor({ "hygrometer.humidity": null }, resolve), { humidity: 40, hygrometer: { humidity: 41 } }), [{ quantity: "humidity", value: 40 }]);
  // A one-class accelerometer (the SDK's LIS3DH) returns x, y, z flat: the app says which class they are.
  assert.equal(readings(planFor({ x: "acceleration_x", y: "acceleration_y", z: "acceleration_z" }, resolve), { x: 1, y: 2, z: 3 }).map((r) => r.quantity), [
    "acceleration_x", "acceleration_y", "acceleration_z",
  ]);
  const spin = declareQuantity("spin_z", "deg", 0);
  assert.equal(readings(planFor({ "gyroscope.z": spin, alert: "state" }, resolve), { gyroscope: { x: 1, z: 90 }, alert: true }), [
    { quantity: "state", value: 1 }, { quantity: "spin_z", value: 90, unit: "deg" },
  ]);
  assert.throws(() => planFor({ temperature: "warmth" }, resolve), /unknown quantity warmth/);
});

test.run();
