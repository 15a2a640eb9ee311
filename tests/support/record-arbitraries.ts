/*
 * fast-check arbitraries of uplink records, for the fuzz tests: valid
 * observations, clock anchors and batches as a device writes them (with the
 * device's own encoders), any CBOR value in a record's shape, and raw bytes.
 * Quantities come from the codec's own table, so new ones are fuzzed too, and
 * some are declared (a name, a unit and an exponent) as an app may.
 */
import { encode, Tag } from "cbor-x";
import { BatchWriter } from "../../modules/observation/batch-writer.js";
import { MAX_EXPONENT, QUANTITY_NAME_PATTERN, standardQuantity } from "../../modules/observation/quantities.js";
import {
  encodeClockAnchor, encodeObservation, MAX_READINGS, MAX_RECORD_BYTES, QUANTITIES, type ClockAnchor, type Observation, type Quantity, type Reading,
} from "../../modules/observation/record.js";
import { fc, mutatedBytes } from "./fuzz.js";

const quantities = Object.values(QUANTITIES);

export const sensorId = (): fc.Arbitrary<string> => fc.stringMatching(/^[A-Za-z0-9._:-]{1,64}$/);

/** A quantity an app may declare (modules/SPEC.md, "Quantities"): a name no standard quantity has, a SenML unit, an exponent. */
const declared = fc.record({
  name: fc.stringMatching(QUANTITY_NAME_PATTERN).filter((name) => standardQuantity(name) === undefined),
  unit: fc.constantFrom("/", "Cel", "ppm", "m", "kWh", "dB", "%", "count"),
  exponent: fc.integer({ min: -MAX_EXPONENT, max: MAX_EXPONENT }),
});

/** An observation the device can encode: values on the quantity's decimal grid, within what its CBOR writer takes; some quantities declared. */
export function observation(id: fc.Arbitrary<string> = sensorId()): fc.Arbitrary<Observation> {
  const onGrid = (mantissa: number, exponent: number) => (exponent < 0 ? mantissa / 10 ** -exponent : mantissa * 10 ** exponent);
  const mantissa = fc.integer({ min: -(2 ** 31), max: 2 ** 31 });
  const standard = fc.tuple(fc.constantFrom(...quantities), mantissa).map(([info, m]): Reading => ({ quantity: info.name as Quantity, value: onGrid(m, info.exponent) }));
  const own = fc.tuple(declared, mantissa).map(([q, m]): Reading => ({ quantity: q.name, value: onGrid(m, q.exponent), unit: q.unit, exponent: q.exponent }));
  const reading = fc.oneof({ arbitrary: standard, weight: 4 }, { arbitrary: own, weight: 1 });
  return fc.record({
    sensorId: id,
    seq: fc.integer({ min: 1, max: 2 ** 32 }),
    boot: fc.integer({ min: 0, max: 2 ** 16 }),
    uptimeMs: fc.integer({ min: 0, max: 2 ** 40 }),
    readings: fc.array(reading, { minLength: 1, maxLength: Math.min(3, MAX_READINGS) }),
  });
}

export function clockAnchor(id: fc.Arbitrary<string> = sensorId()): fc.Arbitrary<ClockAnchor> {
  return fc.record({
    sensorId: id,
    boot: fc.integer({ min: 0, max: 2 ** 16 }),
    uptimeMs: fc.integer({ min: 0, max: 2 ** 40 }),
    wallMs: fc.option(fc.integer({ min: 1_600_000_000_000, max: 2 ** 45 }), { nil: null }),
  });
}

/** A batch record of 1..20 consecutive samples of one sensor, as the device's BatchWriter closes it. */
export function batch(id: fc.Arbitrary<string> = sensorId()): fc.Arbitrary<Uint8Array> {
  return fc.tuple(observation(id), fc.array(fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 70_000 }), fc.integer({ min: -500, max: 500 })), { maxLength: 19 }))
    .map(([first, steps]) => {
      const writer = new BatchWriter();
      writer.add(first);
      let previous = first;
      for (const [dSeq, dUptime, dValue] of steps) {
        const next: Observation = {
          ...previous,
          seq: previous.seq + dSeq,
          uptimeMs: previous.uptimeMs + dUptime,
          readings: previous.readings.map((r) => ({ ...r, value: r.value + dValue * 10 ** (standardQuantity(r.quantity)?.exponent ?? r.exponent!) })),
        };
        if (!writer.add(next)) break;
        previous = next;
      }
      return writer.finish().slice();
    });
}

/** Any record a device may send: an observation, a clock anchor or a batch, encoded. */
export function validRecord(id: fc.Arbitrary<string> = sensorId()): fc.Arbitrary<Uint8Array> {
  return fc.oneof(observation(id).map(encodeObservation), clockAnchor(id).map(encodeClockAnchor), batch(id));
}

// cbor-x's extension tags (typed arrays, records, shared references, packed values, sets, maps, regexps, errors) and a few others.
const TAGS = [0, 1, 2, 3, 4, 5, 6, 21, 24, 25, 27, 28, 29, 32, 35, 51, 52, 55, 64, 65, 66, 68, 69, 70, 72, 77, 78, 81, 85, 86, 105, 256, 258, 259, 55799, 57344, 57599, 0xffff];

/** CBOR values of every major type, nested a little, tags included. */
export const cborValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.integer({ min: -1000, max: 1000 }),
    fc.constantFrom(0, 1, 2, 3, 23, 24, 255, 256, 65535, 2 ** 32, 2 ** 53 - 1, 2 ** 53, -(2 ** 53), Number.MAX_VALUE),
    fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n - 1n }),
    fc.double(),
    fc.string({ maxLength: 70 }),
    sensorId(),
    fc.constantFrom(null, undefined, true, false),
    fc.uint8Array({ maxLength: 20 }),
    fc.array(tie("value"), { maxLength: 6 }),
    fc.dictionary(fc.string({ maxLength: 4 }), tie("value"), { maxKeys: 3 }),
    fc.tuple(fc.oneof(fc.constantFrom(...TAGS), fc.nat()), tie("value")).map(([tag, value]) => new Tag(value, tag)),
  ),
})).value;

/** A record's shape (a kind, then anything), CBOR-encoded: reaches the checks after the CBOR decode. */
export const recordShaped: fc.Arbitrary<Uint8Array> = fc
  .tuple(fc.oneof(fc.constantFrom(1, 2, 3), cborValue), fc.array(cborValue, { maxLength: 24 }))
  .map(([kind, rest]) => {
    try {
      return Uint8Array.from(encode([kind, ...rest]));
    } catch {
      return Uint8Array.from([0x80]);
    }
  });

/** Everything the fuzz tests throw at a decoder of records: raw bytes, record-shaped CBOR, and mutated valid records. */
export function recordInput(id: fc.Arbitrary<string> = sensorId()): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ maxLength: MAX_RECORD_BYTES + 20 }),
    recordShaped,
    mutatedBytes(validRecord(id)),
    validRecord(id),
  );
}
