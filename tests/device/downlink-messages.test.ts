/*
 * Messages to a device and its reports: the gateway's encoder (cbor-x)
 * against the device's reader (its own CBOR reader), and the device's report
 * writer against the gateway's decoder, with every limit and malformation
 * refused with a reason.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { encode } from "cbor-x";
import { CborReader } from "../../modules/downlink/cbor-reader.js";
import {
  clipDetail, DownlinkError, MAX_DETAIL_BYTES, MAX_DOWNLINK_BYTES, OutcomeStatus, readDownlink, writeOutcome, type Downlink,
} from "../../modules/downlink/messages.js";
import { decodeReport, downlinkProblem, encodeDownlink, ReportError } from "../../modules/downlink/host-codec.js";
import { CborWriter } from "../../modules/observation/cbor-writer.js";

const cbor = (value: unknown) => new Uint8Array(encode(value));

function refused(bytes: Uint8Array, pattern: RegExp, requestId?: number): void {
  try {
    readDownlink(bytes);
  } catch (e) {
    assert.instance(e, DownlinkError);
    assert.match((e as Error).message, pattern);
    assert.is((e as DownlinkError).requestId, requestId, "the request id, when the message got that far");
    return;
  }
  assert.unreachable(`accepted ${Buffer.from(bytes).toString("hex")}`);
}

test("settings and commands written by the gateway are read back by the device as they were sent", () => {
  const messages: Downlink[] = [
    { kind: "set", requestId: 1_795_000_000_123, settings: [["samplePeriodMs", 5000], ["limit", -40.25], ["mode", "économie"], ["traceSamples", true]] },
    { kind: "set", requestId: 1, settings: [["x", 2 ** 40], ["y", -(2 ** 40)], ["z", 0.1], ["off", false]] },
    { kind: "command", requestId: 7, name: "flush", arg: undefined },
    { kind: "command", requestId: 8, name: "beep", arg: 3 },
  ];
  for (const message of messages) assert.equal(readDownlink(encodeDownlink(message)), message);
});

test("the bytes of modules/SPEC.md's example: a settings message and its report, integers in their shortest form", () => {
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
  const message = encodeDownlink({ kind: "set", requestId: 1_795_000_000_123, settings: [["samplePeriodMs", 5000]] });
  assert.is(hex(message), "84011b000001a1ee565e7b6e73616d706c65506572696f644d73191388");
  assert.is(hex(writeOutcome(new CborWriter(64), { requestId: 1_795_000_000_123, status: OutcomeStatus.APPLIED, detail: null })), "84101b000001a1ee565e7b00f6");
});

test("the device's CBOR reader agrees with cbor-x on every kind of value a message uses", () => {
  const values = [0, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -24, -25, -256, -257, -(2 ** 32), -(2 ** 53 - 1),
    0.5, -1.5, 1e-7, 3.141592653589793, 1e300, "", "a", "ü€😀", "x".repeat(300), true, false, null, [], [1, "two", [3]]];
  for (const value of values) assert.equal(new CborReader(cbor(value)).readAll(), value, JSON.stringify(value));
  // Half precision (cbor-x never writes it; other encoders may): 1.5, -2, 65504, the smallest subnormal.
  for (const [bytes, value] of [[[0xf9, 0x3e, 0x00], 1.5], [[0xf9, 0xc0, 0x00], -2], [[0xf9, 0x7b, 0xff], 65504], [[0xf9, 0x00, 0x01], 2 ** -24]] as const) {
    assert.is(new CborReader(new Uint8Array(bytes)).readAll(), value);
  }
});

test("a message the device cannot read is refused naming why, with its request id once that was read", () => {
  refused(new Uint8Array(0), /0 bytes, must be 1 to 512/);
  refused(new Uint8Array(MAX_DOWNLINK_BYTES + 1), /513 bytes/);
  refused(new Uint8Array([0x83, 0x01]), /truncated/);
  refused(cbor({ a: 1 }), /maps and tags/);
  refused(cbor(new Uint8Array([1, 2])), /byte strings|maps and tags/);
  refused(new Uint8Array([0x9f, 0x01, 0xff]), /indefinite lengths/);
  refused(new Uint8Array([0x83, 0x01, 0x1b, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 0x01]), /beyond 2\^53/);
  refused(new Uint8Array([0x01, 0x02]), /1 bytes after the item/);
  refused(cbor([1, [[[1]]]]), /nested deeper than 2/);
  refused(cbor([1, 0, "a", 1]), /requestId must be a positive integer/);
  refused(cbor([1, 1.5, "a", 1]), /requestId/);
  refused(cbor([9, 5, "a"]), /unknown message kind 9/, 5);
  refused(cbor([1, 5, "a"]), /1 to 8 \(key, value\) pairs/, 5);
  refused(cbor([1, 5, ...Array.from({ length: 9 }, (_, i) => [`k${i}`, i]).flat()]), /1 to 8/, 5);
  refused(cbor([1, 5, "9lives", 1]), /a setting's key must be 1 to 15 letters/, 5);
  refused(cbor([1, 5, "a".repeat(16), 1]), /1 to 15/, 5);
  refused(cbor([1, 5, "a", 1, "a", 2]), /setting a is given twice/, 5);
  refused(cbor([1, 5, "a", "x".repeat(65)]), /a: text longer than 64 bytes/, 5);
  refused(cbor([1, 5, "a", null]), /a: must be a number, text, true or false/, 5);
  refused(cbor([1, 5, "a", [1]]), /a: must be a number/, 5);
  refused(new Uint8Array([0x84, 0x01, 0x05, 0x61, 0x61, 0xfb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0]), /a: a number must be finite/, 5);
  refused(cbor([2, 5, "flush", 1, 2]), /a command is/, 5);
  refused(cbor([2, 5, ""]), /a command's name/, 5);
  refused(new Uint8Array([0x83, 0x01, 0x05, 0x62, 0xc3, 0x28]), /not UTF-8/);
});

test("the gateway refuses to encode what a device would have to refuse", () => {
  assert.match(String(downlinkProblem({ kind: "set", requestId: 1, settings: [] })), /1 to 8 keys/);
  assert.match(String(downlinkProblem({ kind: "set", requestId: 1, settings: [["bad key", 1]] })), /keys are 1 to 15/);
  assert.match(String(downlinkProblem({ kind: "set", requestId: 1, settings: [["a", 1], ["a", 2]] })), /given twice/);
  assert.match(String(downlinkProblem({ kind: "set", requestId: 1, settings: [["a", Number.NaN]] })), /finite/);
  assert.match(String(downlinkProblem({ kind: "command", requestId: 0, name: "flush", arg: undefined })), /requestId/);
  assert.match(String(downlinkProblem({ kind: "command", requestId: 1, name: "flush", arg: "é".repeat(40) })), /argument: text longer than 64 bytes/);
  assert.throws(() => encodeDownlink({ kind: "command", requestId: 1, name: "no way", arg: undefined }), /downlink: command "no way"/);
  // Eight settings of 64-byte text fit: the size limit is the device's, not a surprise.
  const eight: Downlink = { kind: "set", requestId: 2 ** 50, settings: Array.from({ length: 8 }, (_, i) => [`key${i}`, "x".repeat(55)]) };
  assert.is(downlinkProblem(eight), undefined);
  assert.ok(encodeDownlink(eight).byteLength <= MAX_DOWNLINK_BYTES);
});

test("an outcome written by the device is read by the gateway; a long detail is clipped, not overflowed", () => {
  const writer = new CborWriter(128);
  for (const outcome of [
    { requestId: 1_795_000_000_123, status: OutcomeStatus.APPLIED, detail: null },
    { requestId: 9, status: OutcomeStatus.REFUSED, detail: "samplePeriodMs: must be an integer from 10 to 86400000, got 5" },
    { requestId: 9, status: OutcomeStatus.STALE, detail: "request 12 or a newer one was applied" },
  ] as const) {
    assert.equal(decodeReport(writeOutcome(writer, outcome)), outcome);
  }
  const long = decodeReport(writeOutcome(writer, { requestId: 3, status: OutcomeStatus.REFUSED, detail: "ä".repeat(200) }));
  assert.ok(long.detail!.endsWith("...") && Buffer.byteLength(long.detail!) <= MAX_DETAIL_BYTES);
  assert.is(clipDetail("short"), "short");
});

test("a report the gateway cannot read is refused naming the field", () => {
  const cases: Array<[unknown, string]> = [
    [{ a: 1 }, "report"],
    [[16, 1, 0], "report"],
    [[17, 1, 0, null], "kind"],
    [[16, 0, 0, null], "requestId"],
    [[16, 1, 9, null], "status"],
    [[16, 1, 0, 5], "detail"],
    [[16, 1, 0, "x".repeat(97)], "detail"],
  ];
  for (const [value, field] of cases) {
    try {
      decodeReport(cbor(value));
      assert.unreachable(`accepted ${JSON.stringify(value)}`);
    } catch (e) {
      assert.instance(e, ReportError);
      assert.is((e as ReportError).field, field, (e as Error).message);
    }
  }
  assert.throws(() => decodeReport(new Uint8Array(300)), /300 bytes/);
  assert.throws(() => decodeReport(new Uint8Array([0x1c])), /report report: not CBOR/);
  // A kind or a status of 64 bits is a BigInt from cbor-x: its refusal's JSON.stringify threw a TypeError, which the dispatcher
  // takes for a failed handler (no PUBACK, the device disconnected), so the device sent the same report again and again.
  assert.throws(() => decodeReport(Uint8Array.from([0x84, 0x1b, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x01, 0x00, 0xf6])), (e: Error) => e instanceof ReportError && e.field === "kind");
  assert.throws(() => decodeReport(Uint8Array.from([0x84, 0x10, 0x01, 0x1b, 0, 0, 0, 0, 0, 0, 0, 0x00, 0xf6])), (e: Error) => e instanceof ReportError && e.field === "status");
  // A long text then a byte string claiming 2^32 - 5 bytes: cbor-x's native string scanner wrapped its 32-bit position and looped forever.
  assert.throws(() => decodeReport(Uint8Array.from([0x82, 0x78, 0x20, ...new Array(32).fill(0x61), 0x5a, 0xff, 0xff, 0xff, 0xfb])), /report report: not CBOR as reports are written \(a byte string/);
});

test.run();
