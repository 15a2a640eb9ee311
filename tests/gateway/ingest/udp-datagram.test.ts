import { test } from "uvu";
import * as assert from "uvu/assert";
import { encode } from "cbor-x";
import { encodeObservation } from "../../../modules/observation/record.js";
import { decodeTemperatureUpdated, encodeTemperatureUpdated, PostcardError } from "../../../hosts/gateway/ingest/udp/postcard.js";
import { classifyDatagram, MAX_DATAGRAM_BYTES } from "../../../hosts/gateway/ingest/udp/datagram.js";
import { GatewaySequence, POSTCARD_BOOT, postcardObservation } from "../../../hosts/gateway/ingest/udp/postcard-observation.js";
import { observation } from "../../support/test-helpers.js";

const bytes = (...b: number[]) => Uint8Array.from(b);
const everyone = () => true;

test("postcard: 01 02 is device 1 at 2 °C, as in the sample", () => {
  assert.equal(decodeTemperatureUpdated(bytes(0x01, 0x02)), { devAddr: 1, temperature: 2 });
});

const multiByte: Array<[number, number[]]> = [
  [127, [0x7f]],
  [128, [0x80, 0x01]],
  [300, [0xac, 0x02]],
  [16_384, [0x80, 0x80, 0x01]],
  [0xffff_ffff, [0xff, 0xff, 0xff, 0xff, 0x0f]],
];
for (const [value, varint] of multiByte) {
  test(`postcard: ${value} is the varint ${varint.map((b) => b.toString(16).padStart(2, "0")).join(" ")} in both fields`, () => {
    const datagram = bytes(...varint, ...varint);
    assert.equal(decodeTemperatureUpdated(datagram), { devAddr: value, temperature: value });
    assert.equal([...encodeTemperatureUpdated({ devAddr: value, temperature: value })], [...datagram]);
  });
}

test("postcard: a non-minimal varint within five bytes is read as Postcard reads it", () => {
  assert.equal(decodeTemperatureUpdated(bytes(0x81, 0x00, 0x80, 0x80, 0x00)), { devAddr: 1, temperature: 0 });
});

const postcardFaults: Array<[string, number[], string, string]> = [
  ["an empty datagram", [], "dev_addr", "truncated"],
  ["a missing temperature", [0x01], "temperature", "truncated"],
  ["a dev_addr cut inside its varint", [0x81], "dev_addr", "truncated"],
  ["a temperature cut inside its varint", [0x01, 0x80], "temperature", "truncated"],
  ["a dev_addr over six bytes", [0x81, 0x81, 0x81, 0x81, 0x81, 0x01, 0x02], "dev_addr", "too-long"],
  ["a temperature over six bytes", [0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], "temperature", "too-long"],
  ["a dev_addr of 2^32", [0x80, 0x80, 0x80, 0x80, 0x10, 0x02], "dev_addr", "over-u32"],
  ["a temperature over u32", [0x01, 0xff, 0xff, 0xff, 0xff, 0x7f], "temperature", "over-u32"],
  ["bytes after the temperature", [0x01, 0x02, 0x03], "message", "trailing-bytes"],
];
for (const [what, datagram, field, problem] of postcardFaults) {
  test(`postcard refuses ${what} (${field}: ${problem})`, () => {
    try {
      decodeTemperatureUpdated(bytes(...datagram));
      assert.unreachable("decoded");
    } catch (e) {
      assert.instance(e, PostcardError);
      assert.is((e as PostcardError).field, field);
      assert.is((e as PostcardError).problem, problem);
      assert.match((e as Error).message, field);
    }
  });
}

test("classify: a Postcard datagram is sensor \"<dev_addr>\"", () => {
  const decision = classifyDatagram(encodeTemperatureUpdated({ devAddr: 300, temperature: 21 }), everyone);
  assert.equal(decision, { kind: "postcard", sensorId: "300", message: { devAddr: 300, temperature: 21 } });
});

test("classify: Postcard bytes that start like a CBOR record head are still Postcard (dev_addr 261)", () => {
  const decision = classifyDatagram(bytes(0x85, 0x02, 0x05), everyone);
  assert.equal(decision, { kind: "postcard", sensorId: "261", message: { devAddr: 261, temperature: 5 } });
});

test("classify: our observation and batch records are records of the sensor they name", () => {
  const single = classifyDatagram(encodeObservation(observation("greenhouse-7", 3)), everyone);
  assert.ok(single.kind === "record" && single.sensorId === "greenhouse-7" && single.record.kind === "observation");
  const batch = classifyDatagram(encode([3, "g", 1, [1], 5, 1000, 2150, 1, 1000, 2160]), everyone);
  assert.ok(batch.kind === "record" && batch.sensorId === "g" && batch.record.kind === "batch");
});

const datagramFaults: Array<[string, Uint8Array, string, string]> = [
  ["an empty datagram", bytes(), "malformed", "datagram"],
  ["one over the size limit", new Uint8Array(MAX_DATAGRAM_BYTES + 1), "too-large", "datagram"],
  ["a truncated varint", bytes(0x01, 0x80), "malformed", "temperature"],
  ["trailing bytes", bytes(0x01, 0x02, 0x03), "malformed", "message"],
  ["random bytes longer than any Postcard message", bytes(0xff, 0x13, 0x77, 0xc2, 0x00, 0x9a, 0x41, 0x5e, 0xee, 0x10, 0x3c, 0x81), "malformed", "record"],
  ["a CBOR observation with seq 0", encode([1, "s-1", 0, 1, 1, 1, 2150]), "malformed", "seq"],
  ["a short CBOR clock anchor with a bad wallMs", encode([2, "a", 1, 5, "x"]), "malformed", "wallMs"],
];
for (const [what, datagram, reason, field] of datagramFaults) {
  test(`classify refuses ${what} as ${reason} (${field})`, () => {
    const decision = classifyDatagram(datagram, everyone);
    assert.is(decision.kind, "refused");
    if (decision.kind !== "refused") return;
    assert.is(decision.reason, reason);
    assert.is(decision.field, field);
    assert.ok(decision.detail.length > 0);
  });
}

test("classify refuses a sensor that is not registered, in either form", () => {
  const registered = (id: string) => id === "1";
  assert.is(classifyDatagram(bytes(0x01, 0x02), registered).kind, "postcard");
  const postcard = classifyDatagram(bytes(0x02, 0x02), registered);
  assert.equal(postcard, { kind: "refused", reason: "unregistered", field: "dev_addr", detail: 'sensor "2" is not registered' });
  const record = classifyDatagram(encodeObservation(observation("s-9", 1)), registered);
  assert.ok(record.kind === "refused" && record.reason === "unregistered" && record.field === "sensorId");
});

test("a Postcard observation is timed by the gateway at receipt, in boot 0", () => {
  assert.equal(postcardObservation("1", 7, 2, 1_795_000_000_000), {
    sensorId: "1", seq: 7, boot: POSTCARD_BOOT, uptimeMs: 0,
    readings: [{ quantity: "temperature", value: 2 }], time: 1_795_000_000_000, timeSource: "gateway",
  });
});

test("gateway sequence: continues after the store's highest, reads it once per sensor, re-reads after forget", () => {
  const highest: Record<string, number> = { a: 41 };
  let reads = 0;
  const sequence = new GatewaySequence((id) => (reads++, highest[id] ?? 0));
  assert.is(sequence.next("a"), 42);
  assert.is(sequence.next("a"), 43);
  assert.is(sequence.next("b"), 1);
  assert.is(reads, 2);
  highest.a = 50;
  sequence.forget("a");
  assert.is(sequence.next("a"), 51);
});

test.run();
