import { test } from "uvu";
import * as assert from "uvu/assert";
import { observationFromJson, observationToJson } from "../../modules/observation/observation-json.js";
import { ObservationError, type TimedObservation } from "../../modules/observation/record.js";

const timed: TimedObservation = {
  sensorId: "s-1", seq: 4, boot: 2, uptimeMs: 9_000, time: 1_795_000_000_000, timeSource: "gateway",
  readings: [{ quantity: "temperature", value: -3.25 }, { quantity: "pressure", value: 99_870 }],
};

test("the JSON form carries units and explicit nulls, and reads back to the same observation", () => {
  const json = observationToJson(timed);
  assert.equal(json.readings, [{ quantity: "temperature", unit: "Cel", value: -3.25 }, { quantity: "pressure", unit: "Pa", value: 99_870 }]);
  assert.equal(observationFromJson(JSON.parse(JSON.stringify(json))), timed);
  const { time: _t, timeSource: _s, ...untimed } = timed;
  assert.equal([observationToJson(untimed).time, observationToJson(untimed).timeSource], [null, null]);
  assert.equal(observationFromJson(observationToJson(untimed)), untimed);
});

test("values are rounded to the quantity's resolution, as the device's record would carry them", () => {
  const obs = observationFromJson({ ...timed, readings: [{ quantity: "temperature", value: 21.3749 }, { quantity: "pressure", value: 101_325.4 }] });
  assert.equal(obs.readings.map((r) => r.value), [21.37, 101_325]);
});

const bad: Array<[string, unknown, string]> = [
  ["not an object", [], "observation"],
  ["a sensor id with a slash", { ...timed, sensorId: "a/b" }, "sensorId"],
  ["seq 0", { ...timed, seq: 0 }, "seq"],
  ["a fractional boot", { ...timed, boot: 1.5 }, "boot"],
  ["nine readings", { ...timed, readings: Array(9).fill({ quantity: "pressure", value: 1 }) }, "readings"],
  ["an infinite value", { ...timed, readings: [{ quantity: "pressure", value: Infinity }] }, "readings[0].value"],
  ["a value too large for the record", { ...timed, readings: [{ quantity: "pressure", value: 1e300 }] }, "readings[0].value"],
  ["the wrong unit", { ...timed, readings: [{ quantity: "pressure", unit: "hPa", value: 998 }] }, "readings[0].unit"],
  ["a negative time", { ...timed, time: -1 }, "time"],
  ["a time without its source", { ...timed, timeSource: undefined }, "timeSource"],
  ["a source without a time", { ...timed, time: null }, "timeSource"],
];

for (const [what, value, field] of bad) {
  test(`${what} is refused naming ${field}`, () => {
    assert.throws(() => observationFromJson(value), (e: unknown) => e instanceof ObservationError && e.field === field);
  });
}

test.run();
