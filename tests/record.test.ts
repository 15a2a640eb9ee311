import { test } from "uvu";
import * as assert from "uvu/assert";
import { encode } from "cbor-x";
import { decodeObservation, encodeObservation, ObservationError, MAX_RECORD_BYTES, type Observation } from "../modules/observation/record.js";

const sample: Observation = {
  sensorId: "sensor-1",
  seq: 42,
  boot: 3,
  uptimeMs: 123_456,
  time: 1_795_000_000_123,
  readings: [
    { quantity: "temperature", value: 21.37 },
    { quantity: "humidity", value: 45.5 },
    { quantity: "pressure", value: 101_325 },
  ],
};

test("an observation survives a CBOR round trip with every field intact", () => {
  const bytes = encodeObservation(sample);
  assert.equal(decodeObservation(bytes), sample);
});

test("a record without wall time round-trips without one", () => {
  const { time: _unused, ...noTime } = sample;
  const decoded = decodeObservation(encodeObservation(noTime));
  assert.equal(decoded, noTime);
  assert.not.ok("time" in decoded);
});

test("the packed record is far smaller than JSON of the same observation", () => {
  const bytes = encodeObservation(sample);
  const json = new TextEncoder().encode(JSON.stringify(sample));
  assert.ok(bytes.byteLength * 2 < json.byteLength, `${bytes.byteLength} CBOR bytes vs ${json.byteLength} JSON bytes`);
});

test("values are rounded to the quantity's resolution, not truncated", () => {
  const decoded = decodeObservation(encodeObservation({ ...sample, readings: [{ quantity: "temperature", value: 21.3749 }] }));
  assert.is(decoded.readings[0].value, 21.37);
  const cold = decodeObservation(encodeObservation({ ...sample, readings: [{ quantity: "temperature", value: -40.006 }] }));
  assert.is(cold.readings[0].value, -40.01);
});

function refused(bytes: Uint8Array, field: string): void {
  try {
    decodeObservation(bytes);
  } catch (e) {
    assert.instance(e, ObservationError);
    assert.is((e as ObservationError).field, field, (e as Error).message);
    return;
  }
  assert.unreachable(`accepted a record with a bad ${field}`);
}

test("malformed records are refused naming the bad field", () => {
  const good = [1, "s1", 1, 0, 10, null, [[1, 2137, -2]]];
  refused(new Uint8Array(0), "record");
  refused(new Uint8Array([0xff, 0x00, 0x13]), "record");
  refused(encode({ sensorId: "s1" }), "record");
  refused(new Uint8Array(MAX_RECORD_BYTES + 1), "record");
  refused(encode([2, ...good.slice(1)]), "version");
  refused(encode(good.slice(0, 6)), "record");
  refused(encode([1, "", ...good.slice(2)]), "sensorId");
  refused(encode([1, "bad id", ...good.slice(2)]), "sensorId");
  refused(encode([1, "s1", 0, ...good.slice(3)]), "seq");
  refused(encode([1, "s1", 1.5, ...good.slice(3)]), "seq");
  refused(encode([1, "s1", 1, -1, ...good.slice(4)]), "boot");
  refused(encode([1, "s1", 1, 0, "10", ...good.slice(5)]), "uptimeMs");
  refused(encode([1, "s1", 1, 0, 10, "now", good[6]]), "time");
  refused(encode([1, "s1", 1, 0, 10, null, []]), "readings");
  refused(encode([1, "s1", 1, 0, 10, null, [[9, 1, 0]]]), "readings[0].quantity");
  refused(encode([1, "s1", 1, 0, 10, null, [[1, 1.5, 0]]]), "readings[0].mantissa");
  refused(encode([1, "s1", 1, 0, 10, null, [[1, 1, 99]]]), "readings[0].exponent");
  refused(encode([1, "s1", 1, 0, 10, null, [[1, 1]]]), "readings[0]");
});

test("encoding refuses what it cannot represent instead of sending garbage", () => {
  assert.throws(() => encodeObservation({ ...sample, readings: [{ quantity: "temperature", value: NaN }] }), /readings\[0\]\.value/);
  assert.throws(() => encodeObservation({ ...sample, readings: [{ quantity: "lux" as never, value: 1 }] }), /quantity/);
});

test.run();
