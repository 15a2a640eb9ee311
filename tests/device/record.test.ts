import { test } from "uvu";
import * as assert from "uvu/assert";
import { decode, encode } from "cbor-x";
import { CborOverflowError, CborWriter } from "../../modules/observation/cbor-writer.js";
import { BatchWriter } from "../../modules/observation/batch-writer.js";
import {
  encodeClockAnchor, encodeObservation, MAX_RECORD_BYTES, ObservationError, type ClockAnchor, type Observation,
} from "../../modules/observation/record.js";
import { decodeObservation, decodeUplinkRecord } from "../../modules/observation/record-decoder.js";

const sample: Observation = {
  sensorId: "sensor-1",
  seq: 86_400,
  boot: 3,
  uptimeMs: 123_456,
  readings: [
    { quantity: "temperature", value: 21.37 },
    { quantity: "humidity", value: 45.5 },
    { quantity: "pressure", value: 101_325 },
  ],
};

test("an observation survives a round trip with every field intact", () => {
  assert.equal(decodeObservation(encodeObservation(sample)), sample);
});

test("a clock anchor round-trips with and without the device's wall time", () => {
  const synced: ClockAnchor = { sensorId: "s-1", boot: 2, uptimeMs: 5_000, wallMs: 1_795_000_000_123 };
  assert.equal(decodeUplinkRecord(encodeClockAnchor(synced)), { kind: "clock", anchor: synced });
  const unsynced: ClockAnchor = { ...synced, wallMs: null };
  assert.equal(decodeUplinkRecord(encodeClockAnchor(unsynced)), { kind: "clock", anchor: unsynced });
});

test("the device's writer produces exactly cbor-x's canonical bytes for the same array", () => {
  const values = [0, 1, 23, 24, 255, 256, 65_535, 65_536, 0xffffffff, 0x100000000, Number.MAX_SAFE_INTEGER,
    -1, -24, -25, -256, -257, -65_536, -65_537, -0x100000000, -0x100000001];
  for (const value of values) {
    const ours = new CborWriter(16).integer(value).view();
    // Past 32-bit arguments cbor-x writes a float64; ours is the integer encoding RFC 8949 prefers, and cbor-x reads it back.
    const argument = value >= 0 ? value : -1 - value;
    if (argument < 0x80000000) assert.equal([...ours], [...encode(value)], `integer ${value}`);
    else assert.is(ours[0] & 0x1f, argument < 0x100000000 ? 26 : 27, `integer ${value} in the shortest integer form`);
    assert.is(Number(decode(ours)), value, `integer ${value} decodes`);
  }
  for (const text of ["", "a", "sensor-1", "x".repeat(23), "x".repeat(24), "x".repeat(300), "température", "温度", "🌡️"]) {
    const ours = new CborWriter(1024).text(text).view();
    assert.equal([...ours], [...encode(text)], `text ${JSON.stringify(text)}`);
    assert.is(decode(ours), text);
  }
  const record = encodeObservation(sample);
  assert.equal([...record], [...encode([1, "sensor-1", 86_400, 3, 123_456, 1, 2137, 2, 4550, 3, 101_325])]);
});

test("the writer refuses what does not fit or is not an exact integer, instead of truncating", () => {
  assert.throws(() => new CborWriter(4).text("too long"), (e: unknown) => e instanceof CborOverflowError);
  assert.throws(() => new CborWriter(16).integer(1.5), /not an exact integer/);
  assert.throws(() => new CborWriter(16).integer(2 ** 60), /not an exact integer/);
});

test("values are rounded to the quantity's resolution", () => {
  const decoded = decodeObservation(encodeObservation({ ...sample, readings: [{ quantity: "temperature", value: 21.3749 }] }));
  assert.is(decoded.readings[0].value, 21.37);
  const cold = decodeObservation(encodeObservation({ ...sample, readings: [{ quantity: "temperature", value: -40.006 }] }));
  assert.is(cold.readings[0].value, -40.01);
});

test("the packed record is a quarter of JSON of the same observation or less", () => {
  const bytes = encodeObservation({ ...sample, readings: [sample.readings[0]] });
  const json = new TextEncoder().encode(JSON.stringify({ ...sample, readings: [{ quantity: "temperature", unit: "Cel", value: 21.37 }] }));
  assert.ok(bytes.byteLength * 4 <= json.byteLength, `${bytes.byteLength} CBOR bytes vs ${json.byteLength} JSON bytes`);
});

function series(n: number, start = 1): Observation[] {
  return Array.from({ length: n }, (_, i) => ({
    sensorId: "sim-1", seq: start + i, boot: 2, uptimeMs: 1_000 * (start + i),
    readings: [{ quantity: "temperature" as const, value: 20 + i / 100 }],
  }));
}

test("a batch carries every observation intact, in order", () => {
  const batch = new BatchWriter();
  const observations = series(10);
  for (const o of observations) assert.ok(batch.add(o));
  const bytes = batch.finish().slice();
  assert.equal(decodeUplinkRecord(bytes), { kind: "batch", observations });
  assert.is(batch.count, 0, "finish empties the writer");
  // Delta coding: ten TMP117 samples in well under ten single records.
  assert.ok(bytes.length < 10 * encodeObservation(observations[0]).length / 2, `${bytes.length} bytes`);
});

test("a batch is the exact CBOR its spec describes", () => {
  const batch = new BatchWriter();
  const [a, b] = series(2, 86_400);
  batch.add(a);
  batch.add({ ...b, seq: b.seq + 3 });
  const expected = [3, "sim-1", 2, [1], 86_400, 86_400_000, 2000, 4, 1000, 2001];
  assert.equal([...batch.finish()], [...encode(expected)]);
});

test("a batch refuses what does not belong, and stops at 255 bytes", () => {
  const batch = new BatchWriter();
  const [a, b] = series(2);
  batch.add(a);
  assert.not.ok(batch.add({ ...b, boot: 3 }), "another boot");
  assert.not.ok(batch.add({ ...b, readings: [{ quantity: "humidity", value: 40 }] }), "other quantities");
  assert.not.ok(batch.add({ ...b, seq: a.seq }), "a sequence number that does not increase");
  let added = 1;
  for (const o of series(200, 2)) {
    if (!batch.add(o)) break;
    added++;
  }
  const bytes = batch.finish();
  assert.ok(bytes.length <= MAX_RECORD_BYTES, `${bytes.length} bytes`);
  const decoded = decodeUplinkRecord(bytes);
  assert.is(decoded.kind === "batch" && decoded.observations.length, added);
  assert.throws(() => batch.finish(), /no observations/);
});

function refused(bytes: Uint8Array, field: string): void {
  try {
    decodeUplinkRecord(bytes);
  } catch (e) {
    assert.instance(e, ObservationError);
    assert.is((e as ObservationError).field, field, (e as Error).message);
    return;
  }
  assert.unreachable(`accepted a record with a bad ${field}`);
}

test("malformed records are refused naming the bad field", () => {
  const good = [1, "s1", 1, 0, 10, 1, 2137];
  refused(new Uint8Array(0), "record");
  refused(new Uint8Array([0xff, 0x00, 0x13]), "record");
  refused(encode({ sensorId: "s1" }), "record");
  refused(new Uint8Array(MAX_RECORD_BYTES + 1), "record");
  refused(encode([9, ...good.slice(1)]), "kind");
  refused(encode(good.slice(0, 6)), "record");
  refused(encode([1, "", ...good.slice(2)]), "sensorId");
  refused(encode([1, "bad id", ...good.slice(2)]), "sensorId");
  refused(encode([1, "s1", 0, ...good.slice(3)]), "seq");
  refused(encode([1, "s1", 1.5, ...good.slice(3)]), "seq");
  refused(encode([1, "s1", 1, -1, ...good.slice(4)]), "boot");
  refused(encode([1, "s1", 1, 0, "10", ...good.slice(5)]), "uptimeMs");
  refused(encode([...good, 2]), "readings");
  refused(encode([1, "s1", 1, 0, 10, 999, 1]), "readings[0].quantity");
  refused(encode([1, "s1", 1, 0, 10, 1, 1.5]), "readings[0].value");
  refused(encode([2, "s1", 1, 10]), "record");
  refused(encode([2, "s1", 1, 10, "now"]), "wallMs");
  // 64-bit values beyond exact doubles are refused, not rounded.
  refused(encode([1, "s1", 1, 0, 10, 1, 2n ** 60n]), "readings[0].value");
  refused(encode([2, "s1", 1, 10, 2n ** 60n]), "wallMs");
  refused(encode([3, "s1", 1, [1], 5, 100]), "record");
  refused(encode([3, "s1", 1, [], 5, 100, 1]), "quantities");
  refused(encode([3, "s1", 1, [999], 5, 100, 1]), "quantities[0]");
  refused(encode([3, "s1", 1, [1], 5, 100, 1, 0, 10, 2]), "observations[1].seq");
  refused(encode([3, "s1", 1, [1], 5, 100, 1, 1, 10]), "observations");
  refused(encode([3, "s1", 1, [1], 0, 100, 1]), "observations[0].seq");
  refused(encode([3, "s1", 1, [1], 5, 100, 1.5]), "observations[0].readings[0].value");
  assert.throws(() => decodeObservation(encodeClockAnchor({ sensorId: "s1", boot: 1, uptimeMs: 1, wallMs: null })), /expected an observation/);
});

test("encoding refuses what it cannot represent instead of sending garbage", () => {
  assert.throws(() => encodeObservation({ ...sample, readings: [{ quantity: "temperature", value: NaN }] }), /readings\[0\]\.value/);
  assert.throws(() => encodeObservation({ ...sample, readings: [{ quantity: "lux" as never, value: 1 }] }), /quantity/);
  assert.throws(() => encodeObservation({ ...sample, readings: [] }), /readings/);
});

test.run();
