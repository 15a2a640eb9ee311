/*
 * Quantities beyond three: the standard table (codes, SenML units,
 * exponents), quantities an app declares (carried by their definition), the
 * refusal of a code a receiver does not know, and records written by the
 * code before the table grew, which must still decode to the same values.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { encode } from "cbor-x";
import { BatchWriter } from "../../modules/observation/batch-writer.js";
import { encodeObservation, ObservationError, type Observation, type Reading } from "../../modules/observation/record.js";
import { decodeUplinkRecord } from "../../modules/observation/record-decoder.js";
import { observationFromJson, observationToJson } from "../../modules/observation/observation-json.js";
import { declareQuantity, LAST_QUANTITY_CODE, QUANTITIES, QUANTITY_BY_CODE } from "../../modules/observation/quantities.js";
import { isSenmlUnit } from "../../modules/observation/senml-units.js";

const hex = (text: string) => new Uint8Array(Buffer.from(text.replace(/\s+/g, ""), "hex"));

function refusal(bytes: Uint8Array): ObservationError {
  try {
    decodeUplinkRecord(bytes);
  } catch (e) {
    assert.instance(e, ObservationError);
    return e as ObservationError;
  }
  throw new Error("the record was accepted");
}

test("records written by the code of commit 50cffc5 (three quantities) decode to the same observations", () => {
  // Produced by that commit's BatchWriter, encodeObservation and encodeClockAnchor (dist of 50cffc5).
  const bme = decodeUplinkRecord(hex(`981d036573696d2d330783010203182a1913881908591911c61a00018bcd021903e819085a1911bc1a00018bce021903e819085b
    1911b21a00018bcf021903e819085c1911a81a00018bd0021903e819085d19119e1a00018bd1`));
  assert.is(bme.kind, "batch");
  if (bme.kind === "batch") {
    assert.is(bme.observations.length, 5);
    assert.equal(bme.observations[4], {
      sensorId: "sim-3", seq: 50, boot: 7, uptimeMs: 9000,
      readings: [{ quantity: "temperature", value: 21.41 }, { quantity: "humidity", value: 45.1 }, { quantity: "pressure", value: 101329 }],
    });
  }
  const tmp = decodeUplinkRecord(hex("8d036c677265656e686f7573652d370381011a000151801a0001e24039020c011903e839020b011903e839020a"));
  assert.equal(tmp.kind === "batch" && tmp.observations.map((o) => [o.seq, o.readings[0]]), [
    [86400, { quantity: "temperature", value: -5.25 }], [86401, { quantity: "temperature", value: -5.24 }], [86402, { quantity: "temperature", value: -5.23 }],
  ]);
  assert.equal(decodeUplinkRecord(hex("89016573696d2d32090119012c011907cf021917d6")), {
    kind: "observation",
    observation: { sensorId: "sim-2", seq: 9, boot: 1, uptimeMs: 300, readings: [{ quantity: "temperature", value: 19.99 }, { quantity: "humidity", value: 61.02 }] },
  });
  assert.equal(decodeUplinkRecord(hex("85026573696d2d31031904b01b000001a1ee565e7b")), {
    kind: "clock", anchor: { sensorId: "sim-1", boot: 3, uptimeMs: 1200, wallMs: 1795000000123 },
  });
});

test("the first three codes keep their meaning, and today's writer still writes their bytes", () => {
  assert.equal([1, 2, 3].map((code) => QUANTITY_BY_CODE[code]), [QUANTITIES.temperature, QUANTITIES.humidity, QUANTITIES.pressure]);
  const sht: Observation = { sensorId: "sim-2", seq: 9, boot: 1, uptimeMs: 300, readings: [{ quantity: "temperature", value: 19.99 }, { quantity: "humidity", value: 61.02 }] };
  assert.is(Buffer.from(encodeObservation(sht)).toString("hex"), "89016573696d2d32090119012c011907cf021917d6");
});

test("every standard quantity has a unique code and name, a SenML unit, and survives record and JSON", () => {
  const infos = Object.values(QUANTITIES);
  assert.ok(infos.length >= 40, `the table has ${infos.length} quantities`);
  assert.is(new Set(infos.map((q) => q.code)).size, infos.length);
  assert.is(Math.max(...infos.map((q) => q.code)), LAST_QUANTITY_CODE);
  for (const info of infos) {
    assert.ok(isSenmlUnit(info.unit), `${info.name}: ${info.unit} is a SenML unit`);
    assert.is(QUANTITY_BY_CODE[info.code], info);
    const value = info.exponent < 0 ? 12 / 10 ** -info.exponent : 12 * 10 ** info.exponent;
    const obs: Observation = { sensorId: "s-1", seq: 1, boot: 1, uptimeMs: 5, readings: [{ quantity: info.name, value }] };
    const decoded = decodeUplinkRecord(encodeObservation(obs));
    assert.equal(decoded.kind === "observation" && decoded.observation.readings, [{ quantity: info.name, value }], info.name);
    const json = observationToJson(obs);
    assert.equal(json.readings, [{ quantity: info.name, unit: info.unit, value }]);
    assert.equal(observationFromJson(json).readings, obs.readings);
  }
});

test("a declared quantity travels as its definition, in a single record and in a batch", () => {
  const moisture = declareQuantity("soil_water", "/", -3);
  const reading = (value: number): Reading => ({ quantity: moisture.name, value, unit: moisture.unit, exponent: moisture.exponent });
  const single: Observation = { sensorId: "s-1", seq: 4, boot: 2, uptimeMs: 9, readings: [{ quantity: "temperature", value: 20.5 }, reading(0.412)] };
  const bytes = encodeObservation(single);
  assert.equal(decodeUplinkRecord(bytes), {
    kind: "observation",
    observation: { ...single, readings: [{ quantity: "temperature", value: 20.5 }, { quantity: "soil_water", value: 0.412, unit: "/" }] },
  });
  const batch = new BatchWriter();
  for (let n = 0; n < 3; n++) assert.ok(batch.add({ sensorId: "s-1", seq: 10 + n, boot: 2, uptimeMs: 100 * n, readings: [reading(0.4 + n / 100)] }));
  // Same name, another unit or resolution: another quantity, so another batch.
  assert.not.ok(batch.add({ sensorId: "s-1", seq: 13, boot: 2, uptimeMs: 300, readings: [{ ...reading(0.5), exponent: -2 }] }));
  assert.not.ok(batch.add({ sensorId: "s-1", seq: 13, boot: 2, uptimeMs: 300, readings: [{ ...reading(0.5), unit: "%" }] }));
  const record = decodeUplinkRecord(batch.finish());
  assert.equal(record.kind === "batch" && record.observations.map((o) => o.readings), [
    [{ quantity: "soil_water", value: 0.4, unit: "/" }], [{ quantity: "soil_water", value: 0.41, unit: "/" }], [{ quantity: "soil_water", value: 0.42, unit: "/" }],
  ]);
  // The definition is sent once per record, so a batch stays compact: 13 bytes of it for three samples.
  assert.equal(Buffer.from(encode(["soil_water", "/", -3])).byteLength, 15);
});

test("declarations are checked: a name pattern, no standard name, a SenML unit, a bounded exponent", () => {
  assert.throws(() => declareQuantity("Soil", "/", 0), /name must be/);
  assert.throws(() => declareQuantity("temperature", "K", 0), /is a standard quantity \(code 1\)/);
  assert.throws(() => declareQuantity("soil", "percent", 0), /not a SenML unit/);
  assert.throws(() => declareQuantity("soil", "/", 12), /exponent must be an integer from -9 to 9/);
  assert.ok(isSenmlUnit("Cel") && isSenmlUnit("ppm") && isSenmlUnit("/") && !isSenmlUnit("") && !isSenmlUnit("Cel ppm") && !isSenmlUnit("cel"));
});

test("a receiver refuses what it cannot label: an unknown code, a bad definition, a repeat", () => {
  const unknown = refusal(encode([1, "s1", 1, 0, 10, LAST_QUANTITY_CODE + 1, 5]));
  assert.is(unknown.field, "readings[0].quantity");
  assert.match(unknown.message, new RegExp(`unknown quantity code ${LAST_QUANTITY_CODE + 1} \\(this receiver knows codes 1 to ${LAST_QUANTITY_CODE}`));
  assert.is(refusal(encode([3, "s1", 1, [1, 4000], 5, 100, 1, 2])).field, "quantities[1]");
  assert.match(refusal(encode([1, "s1", 1, 0, 10, ["temperature", "K", 0], 5])).message, /standard quantity/);
  assert.match(refusal(encode([1, "s1", 1, 0, 10, ["soil", "furlong", 0], 5])).message, /not a SenML unit/);
  assert.match(refusal(encode([1, "s1", 1, 0, 10, ["soil", "/"], 5])).message, /quantity code or \[name, unit, exponent\]/);
  assert.match(refusal(encode([3, "s1", 1, [1, 1], 5, 100, 1, 2])).message, /"temperature" appears more than once/);
  assert.match(refusal(encode([1, "s1", 1, 0, 10, 1, 5, 1, 6])).message, /appears more than once/);
});

test("a refusal shows what the device sent with its control characters escaped, C1 and line separators too", () => {
  // JSON.stringify alone leaves U+0080–U+009F raw: U+009B is a terminal's CSI, and the message reaches log lines.
  const message = refusal(encode([1, "s1", 1, 0, 10, ["so\u009b31m\u2028x", "/", 0], 5])).message;
  assert.match(message, /got "so\\u009b31m\\u2028x"/);
  assert.not.match(message, /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
});

test("JSON carries a declared quantity by name and unit, and refuses one without a unit", () => {
  const json = { sensorId: "s-1", seq: 1, boot: 1, uptimeMs: 1, readings: [{ quantity: "soil_water", unit: "/", value: 0.4125 }] };
  assert.equal(observationFromJson(json).readings, [{ quantity: "soil_water", value: 0.4125, unit: "/" }]);
  assert.equal(observationToJson(observationFromJson(json)).readings, json.readings);
  assert.throws(() => observationFromJson({ ...json, readings: [{ quantity: "soil_water", value: 1 }] }), /readings\[0\]\.quantity: soil_water is not a standard quantity, and a declared one needs its unit/);
  assert.throws(() => observationFromJson({ ...json, readings: [{ quantity: "soil_water", unit: "furlong", value: 1 }] }), /not a SenML unit/);
  assert.throws(() => observationFromJson({ ...json, readings: [{ quantity: "co2", unit: "Pa", value: 1 }] }), /must be "ppm" for co2/);
});

test.run();
