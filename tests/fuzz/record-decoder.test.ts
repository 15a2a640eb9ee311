/*
 * The record decoder (modules/observation/record-decoder.ts), which the
 * gateway and the cloud run on every payload a device sends: on any bytes it
 * returns a record that obeys the spec or throws an ObservationError naming
 * the field, quickly and without keeping memory; and what it returns the
 * device's own encoder writes back to the same record.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BatchWriter } from "../../modules/observation/batch-writer.js";
import { decodeUplinkRecord, type UplinkRecord } from "../../modules/observation/record-decoder.js";
import { decode } from "cbor-x";
import { declaredQuantityProblem, standardQuantity } from "../../modules/observation/quantities.js";
import {
  encodeClockAnchor, encodeObservation, MAX_READINGS, ObservationError, RecordKind, SENSOR_ID_PATTERN, type Observation,
} from "../../modules/observation/record.js";
import { assertClearError, fuzz, summary } from "../support/fuzz.js";
import { recordInput } from "../support/record-arbitraries.js";

const isUint = (n: unknown) => typeof n === "number" && Number.isSafeInteger(n) && n >= 0;

function checkObservation(o: Observation, where: string): void {
  assert.ok(SENSOR_ID_PATTERN.test(o.sensorId), `${where}: sensor id ${JSON.stringify(o.sensorId)}`);
  assert.ok(isUint(o.seq) && o.seq >= 1, `${where}: seq ${o.seq}`);
  assert.ok(isUint(o.boot), `${where}: boot ${o.boot}`);
  assert.ok(isUint(o.uptimeMs), `${where}: uptime ${o.uptimeMs}`);
  assert.ok(o.readings.length >= 1 && o.readings.length <= MAX_READINGS, `${where}: ${o.readings.length} readings`);
  for (const r of o.readings) {
    // A standard quantity is named alone; a declared one carries its unit (its exponent stays on the wire).
    if (r.unit === undefined) assert.ok(standardQuantity(r.quantity) !== undefined, `${where}: quantity ${r.quantity}`);
    else assert.ok(declaredQuantityProblem(r.quantity, r.unit, 0) === undefined, `${where}: declared quantity ${r.quantity} in ${r.unit}`);
    assert.is(r.exponent, undefined, `${where}: a decoded reading has no exponent`);
    assert.ok(Number.isFinite(r.value), `${where}: value ${r.value}`);
  }
}

/**
 * The decoder keeps a declared quantity's name and unit, not its exponent
 * (receivers carry values), so the device's encoder needs the exponent the
 * record was written with: read here from the bytes with cbor-x.
 */
function declaredExponents(bytes: Uint8Array): Map<string, number> {
  const raw = decode(bytes) as unknown[];
  const quantities = raw[0] === RecordKind.BATCH ? (raw[3] as unknown[]) : raw.slice(5).filter((_, i) => i % 2 === 0);
  const exponents = new Map<string, number>();
  for (const q of quantities) if (Array.isArray(q)) exponents.set(q[0] as string, q[2] as number);
  return exponents;
}

function asWritten(o: Observation, exponents: Map<string, number>): Observation {
  return { ...o, readings: o.readings.map((r) => (r.unit === undefined ? r : { ...r, exponent: exponents.get(r.quantity) })) };
}

/** A decoded record is what the spec allows, and the device's encoder writes it back to the same record. */
function checkRecord(record: UplinkRecord, bytes: Uint8Array): void {
  const exponents = declaredExponents(bytes);
  switch (record.kind) {
    case "observation": {
      checkObservation(record.observation, "observation");
      assert.equal(decodeUplinkRecord(encodeObservation(asWritten(record.observation, exponents))), record, "re-encoded by the device's encoder, it decodes the same");
      return;
    }
    case "batch": {
      const all = record.observations;
      assert.ok(all.length >= 1, "a batch holds observations");
      all.forEach((o, i) => checkObservation(o, `batch[${i}]`));
      for (let i = 1; i < all.length; i++) {
        assert.ok(all[i].seq > all[i - 1].seq, "seqs increase within a batch");
        assert.ok(all[i].uptimeMs >= all[i - 1].uptimeMs, "uptimes do not go back within a batch");
        assert.is(all[i].sensorId, all[0].sensorId);
        assert.is(all[i].boot, all[0].boot);
      }
      const writer = new BatchWriter();
      if (all.every((o) => writer.add(asWritten(o, exponents)))) assert.equal(decodeUplinkRecord(writer.finish()), record, "a batch the device's writer can hold re-encodes to the same");
      return;
    }
    case "clock": {
      const a = record.anchor;
      assert.ok(SENSOR_ID_PATTERN.test(a.sensorId));
      assert.ok(isUint(a.boot) && isUint(a.uptimeMs));
      assert.ok(a.wallMs === null || isUint(a.wallMs), `wallMs ${a.wallMs}`);
      assert.equal(decodeUplinkRecord(encodeClockAnchor(a)), record);
      return;
    }
  }
}

function decodesOrRefuses(bytes: Uint8Array): void {
  let record: UplinkRecord;
  try {
    record = decodeUplinkRecord(bytes);
  } catch (error) {
    const refusal = assertClearError(error, [ObservationError], `bytes ${Buffer.from(bytes).toString("hex")}`) as ObservationError;
    assert.ok(refusal.field.length > 0, "the refusal names a field");
    return;
  }
  checkRecord(record, bytes);
}

/** Shrunk counterexamples of past failures: each is a test of its own, and runs first in the property. */
const REGRESSIONS: Array<{ found: string; bytes: Uint8Array }> = [
  // [tag 32768(0)]: cbor-x gives a Tag object as the kind, which the message showed as "[object Object]".
  { found: "an unknown kind that is not a number read \"unknown record kind [object Object]\"", bytes: Uint8Array.from([0x81, 0xd9, 0x80, 0x00, 0x00]) },
  // [a text of 32 bytes, a byte string claiming 2^32 - 5 bytes]: cbor-x's native string scanner (cbor-extract) skips
  // the byte string with a 32-bit position, which wraps back onto its own head, and it looped forever, synchronously.
  { found: "a byte string of nearly 4 GiB after a long text hung the decoder", bytes: Uint8Array.from([0x82, 0x78, 0x20, ...new Array(32).fill(0x61), 0x5a, 0xff, 0xff, 0xff, 0xfb]) },
  // [1, "s", 1, 0, 0, [2^64 - 1, "Cel", 1], 5]: a declared quantity's name of 64 bits is a BigInt, and its refusal's JSON.stringify threw a TypeError.
  { found: "a declared quantity named by a 64-bit integer threw a TypeError (\"Do not know how to serialize a BigInt\")", bytes: Uint8Array.from([0x87, 0x01, 0x61, 0x73, 0x01, 0x00, 0x00, 0x83, 0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x63, 0x43, 0x65, 0x6c, 0x01, 0x05]) },
  // [3, ":", 0, [["a", "/", 0]], 1, 0, 0]: a batch of a declared quantity, valid, which the property refused (it knew only standard
  // quantities, and re-encoded without the exponent the decoder does not keep); once the arbitraries wrote declared quantities.
  { found: "the property refused a valid batch of a declared quantity", bytes: Uint8Array.from([0x87, 0x03, 0x61, 0x3a, 0x00, 0x81, 0x83, 0x61, 0x61, 0x61, 0x2f, 0x00, 0x01, 0x00, 0x00]) },
  { found: "the property refused a valid observation of a declared quantity", bytes: encodeObservation({ sensorId: "s", seq: 1, boot: 0, uptimeMs: 0, readings: [{ quantity: "soil_water", value: 0.413, unit: "/", exponent: -3 }] }) },
];

for (const { found, bytes } of REGRESSIONS) {
  test(`regression: ${found}`, () => decodesOrRefuses(bytes));
}

test("an unknown kind is named by its type", () => {
  assert.throws(() => decodeUplinkRecord(Uint8Array.from([0x81, 0x81, 0x01])), (e: Error) => e.message === "record kind: unknown record kind an array");
});

test("CBOR a record does not use (a tag, a byte string, a map, an indefinite length) is refused before cbor-x reads it", () => {
  const refused = (hex: string) => assert.throws(() => decodeUplinkRecord(Buffer.from(hex, "hex")), (e: Error) => e instanceof ObservationError && e.field === "record" && /not CBOR as records are written/.test(e.message));
  refused("81d9800000"); // [tag 32768(0)]
  refused(Buffer.from(REGRESSIONS[1].bytes).toString("hex"));
  refused("8240a0"); // [h'', {}]
  refused("9f01ff"); // [_ 1]
  refused("8201"); // an array of two holding one item
  refused("810101"); // a byte after the record
});

test("any bytes: a record within the spec, or an ObservationError naming the field; no hang, no growth", async () => {
  await fuzz("record decoder", recordInput(), decodesOrRefuses, {
    budgetMs: 3000, minRuns: 50, runTimeoutMs: 500, examples: REGRESSIONS.map((r) => r.bytes),
  });
});

test.after(() => {
  for (const line of summary()) console.log(`  ${line}`);
});

test.run();
