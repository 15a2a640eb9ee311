import { test } from "uvu";
import * as assert from "uvu/assert";
import * as mqttPacket from "mqtt-packet";
import {
  MAX_REMAINING_LENGTH, MqttProtocolError, decodeRemainingLength, encodeConnect, encodeDisconnect, encodePingreq,
  encodePuback, encodePublish, encodeRemainingLength, remainingLengthSize, type ConnectFields,
} from "../../modules/mqtt/codec.js";
import { MAX_INCOMING_PACKET_BYTES, MqttPacketReader, type MqttPacketHandler } from "../../modules/mqtt/reader.js";

const out = new Uint8Array(70_000);

/** Parses with the reference implementation; fails on its errors or on leftover bytes. */
function parseReference(bytes: Uint8Array): mqttPacket.Packet[] {
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const packets: mqttPacket.Packet[] = [];
  const errors: string[] = [];
  parser.on("packet", (p) => packets.push(p));
  parser.on("error", (e: Error) => errors.push(e.message));
  const left = parser.parse(Buffer.from(bytes));
  assert.equal(errors, [], "mqtt-packet parse errors");
  assert.is(left, 0, "bytes left unparsed");
  return packets;
}

function bytesOf(n: number): Uint8Array {
  return out.slice(0, n);
}

function assertSameBytes(ours: Uint8Array, theirs: Buffer, what: string): void {
  assert.equal(Array.from(ours), Array.from(theirs), `${what}: bytes differ from mqtt-packet's generate()`);
}

// ---- encoders, checked against mqtt-packet ----

const connects: [string, ConnectFields][] = [
  ["minimal", { clientId: "dev-1", cleanSession: true, keepAliveSeconds: 60 }],
  ["persistent session, keep-alive off", { clientId: "dev-2", cleanSession: false, keepAliveSeconds: 0 }],
  ["username only", { clientId: "d", cleanSession: false, keepAliveSeconds: 65_535, username: "user" }],
  ["username and password", { clientId: "gerät-€-😀", cleanSession: true, keepAliveSeconds: 30, username: "ü", password: new Uint8Array([0, 1, 255]) }],
  ["empty client id with clean session [MQTT-3.1.3-6]", { clientId: "", cleanSession: true, keepAliveSeconds: 10 }],
];

for (const [name, c] of connects) {
  test(`CONNECT ${name}: mqtt-packet reads the same fields and writes the same bytes [MQTT-3.1.2-2]`, () => {
    const n = encodeConnect(out, c);
    const [p] = parseReference(bytesOf(n)) as mqttPacket.IConnectPacket[];
    assert.is(p.cmd, "connect");
    assert.is(p.protocolId, "MQTT");
    assert.is(p.protocolVersion, 4);
    assert.is(p.clientId, c.clientId);
    assert.is(p.clean, c.cleanSession);
    assert.is(p.keepalive, c.keepAliveSeconds);
    assert.is(p.username, c.username);
    assert.equal(p.password === undefined ? undefined : Array.from(p.password), c.password && Array.from(c.password));
    const reference = mqttPacket.generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clientId: c.clientId, clean: c.cleanSession,
      keepalive: c.keepAliveSeconds, username: c.username, password: c.password && Buffer.from(c.password) });
    assertSameBytes(bytesOf(n), reference, name);
  });
}

const publishes: [string, string, number, 0 | 1, number, boolean][] = [
  ["QoS 0", "a/b", 5, 0, 0, false],
  ["QoS 1", "xsedge/dev-1/obs", 40, 1, 1, false],
  ["QoS 1 DUP, highest packet id", "t", 0, 1, 65_535, true],
  ["unicode topic", "capteurs/température/😀", 3, 1, 300, false],
  ["two-byte remaining length", "big", 1000, 1, 42, false],
];

for (const [name, topic, size, qos, id, dup] of publishes) {
  test(`PUBLISH ${name}: mqtt-packet reads the same fields and writes the same bytes`, () => {
    const payload = Uint8Array.from({ length: size }, (_, i) => (i * 7) & 0xff);
    const n = encodePublish(out, topic, payload, qos, id, dup);
    const [p] = parseReference(bytesOf(n)) as mqttPacket.IPublishPacket[];
    assert.equal({ cmd: p.cmd, topic: p.topic, qos: p.qos, dup: p.dup, retain: p.retain, id: p.messageId, payload: Array.from(p.payload as Buffer) },
      { cmd: "publish", topic, qos, dup, retain: false, id: qos ? id : undefined, payload: Array.from(payload) });
    assertSameBytes(bytesOf(n), mqttPacket.generate({ cmd: "publish", topic, payload: Buffer.from(payload), qos, dup, retain: false, messageId: qos ? id : undefined }), name);
  });
}

test("PUBACK, PINGREQ and DISCONNECT match mqtt-packet byte for byte", () => {
  assertSameBytes(bytesOf(encodePuback(out, 513)), mqttPacket.generate({ cmd: "puback", messageId: 513 }), "PUBACK");
  assert.is((parseReference(bytesOf(encodePuback(out, 513)))[0] as mqttPacket.IPubackPacket).messageId, 513);
  assertSameBytes(bytesOf(encodePingreq(out)), mqttPacket.generate({ cmd: "pingreq" }), "PINGREQ");
  assertSameBytes(bytesOf(encodeDisconnect(out)), mqttPacket.generate({ cmd: "disconnect" }), "DISCONNECT");
});

// ---- remaining length ----

const boundaries: [number, number[]][] = [
  [0, [0x00]], [127, [0x7f]], [128, [0x80, 0x01]], [16_383, [0xff, 0x7f]], [16_384, [0x80, 0x80, 0x01]],
  [2_097_151, [0xff, 0xff, 0x7f]], [2_097_152, [0x80, 0x80, 0x80, 0x01]], [MAX_REMAINING_LENGTH, [0xff, 0xff, 0xff, 0x7f]],
];

for (const [value, bytes] of boundaries) {
  test(`remaining length ${value} encodes as the spec's ${bytes.length}-byte form and decodes back`, () => {
    const buf = new Uint8Array(4);
    assert.is(encodeRemainingLength(buf, 0, value), bytes.length);
    assert.equal(Array.from(buf.subarray(0, bytes.length)), bytes);
    assert.is(remainingLengthSize(value), bytes.length);
    assert.equal(decodeRemainingLength(buf, 0), { value, size: bytes.length });
    assert.is(decodeRemainingLength(buf, 0, bytes.length - 1), undefined, "incomplete field");
  });
}

for (const remaining of [127, 128, 16_383, 16_384, 2_097_151, 2_097_152]) {
  test(`a PUBLISH with remaining length ${remaining} round-trips through mqtt-packet and our reader`, () => {
    const topic = "r/l";
    const payload = new Uint8Array(remaining - 2 - topic.length - 2).fill(0x5a);
    const buf = new Uint8Array(remaining + 5);
    const n = encodePublish(buf, topic, payload, 1, 9, false);
    assert.is(n, 1 + remainingLengthSize(remaining) + remaining);
    assert.equal(decodeRemainingLength(buf, 1), { value: remaining, size: remainingLengthSize(remaining) });
    const [p] = parseReference(buf.subarray(0, n)) as mqttPacket.IPublishPacket[];
    assert.is((p.payload as Buffer).length, payload.length);
    const got = record(n);
    got.reader.feed(buf.subarray(0, n));
    assert.equal(got.packets, [{ type: "publish", topic, payload: payload.length, qos: 1, packetId: 9, dup: false, retain: false }]);
  });
}

test("remaining length beyond 268435455 or negative is a RangeError", () => {
  assert.throws(() => remainingLengthSize(MAX_REMAINING_LENGTH + 1), (e: unknown) => e instanceof RangeError && /remaining length/.test((e as Error).message));
  assert.throws(() => encodeRemainingLength(new Uint8Array(4), 0, -1), (e: unknown) => e instanceof RangeError && /-1/.test(e.message));
  assert.throws(() => encodeRemainingLength(new Uint8Array(1), 0, 128), /do not fit/);
});

test("a remaining-length field whose 4th byte continues is a protocol error", () => {
  assert.throws(() => decodeRemainingLength(new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x01]), 0), (e: unknown) => e instanceof MqttProtocolError && e.fault === "remaining-length");
});

// ---- encoder input validation ----

const p1 = new Uint8Array([1]);
const big = 70_000;
/** [name, encode into `b`, size of `b`, expected message] */
const invalid: [string, (b: Uint8Array) => unknown, number, RegExp][] = [
  ["empty PUBLISH topic [MQTT-4.7.3-1]", (b) => encodePublish(b, "", p1, 1, 1, false), big, /topic: .*non-empty/],
  ["'+' in a PUBLISH topic [MQTT-3.3.2-2]", (b) => encodePublish(b, "a/+/b", p1, 1, 1, false), big, /topic: wildcard '\+'/],
  ["'#' in a PUBLISH topic [MQTT-3.3.2-2]", (b) => encodePublish(b, "a/#", p1, 0, 0, false), big, /topic: wildcard '#'/],
  ["packet id 0 [MQTT-2.3.1-1]", (b) => encodePublish(b, "t", p1, 1, 0, false), big, /packetId: 0/],
  ["packet id 65536 [MQTT-2.3.1-1]", (b) => encodePublish(b, "t", p1, 1, 65_536, false), big, /packetId: 65536/],
  ["fractional packet id", (b) => encodePuback(b, 1.5), big, /packetId: 1.5/],
  ["PUBACK packet id 0 [MQTT-2.3.1-1]", (b) => encodePuback(b, 0), big, /packetId: 0/],
  ["QoS 2", (b) => encodePublish(b, "t", p1, 2 as 1, 1, false), big, /qos: 2/],
  ["DUP on QoS 0 [MQTT-3.3.1-2]", (b) => encodePublish(b, "t", p1, 0, 0, true), big, /dup: .*QoS 0/],
  ["topic over 65535 UTF-8 bytes", (b) => encodePublish(b, "é".repeat(32_768), p1, 0, 0, false), big, /topic: 65536 UTF-8 bytes exceed 65535/],
  ["U+0000 in a topic [MQTT-1.5.3-2]", (b) => encodePublish(b, "a\u0000b", p1, 0, 0, false), big, /topic: contains U\+0000/],
  ["lone surrogate in a topic [MQTT-1.5.3-1]", (b) => encodePublish(b, "a\ud800b", p1, 0, 0, false), big, /topic: lone surrogate at index 1/],
  ["lone low surrogate in a client id [MQTT-1.5.3-1]", (b) => encodeConnect(b, { clientId: "\udc00", cleanSession: true, keepAliveSeconds: 1 }), big, /clientId: lone surrogate/],
  ["PUBLISH too large for the buffer", (b) => encodePublish(b, "topic", p1, 1, 1, false), 11, /PUBLISH: packet of 12 bytes does not fit the 11-byte buffer/],
  ["CONNECT too large for the buffer", (b) => encodeConnect(b, { clientId: "device-0001", cleanSession: true, keepAliveSeconds: 1 }), 24, /CONNECT: packet of 25 bytes does not fit the 24-byte buffer/],
  ["PINGREQ into a 1-byte buffer", (b) => encodePingreq(b), 1, /PINGREQ: packet of 2 bytes/],
  ["client id over 65535 bytes", (b) => encodeConnect(b, { clientId: "x".repeat(65_536), cleanSession: true, keepAliveSeconds: 1 }), big, /clientId: 65536 UTF-8 bytes/],
  ["empty client id without clean session [MQTT-3.1.3-7]", (b) => encodeConnect(b, { clientId: "", cleanSession: false, keepAliveSeconds: 1 }), big, /clientId: .*requires cleanSession/],
  ["password without username [MQTT-3.1.2-22]", (b) => encodeConnect(b, { clientId: "c", cleanSession: true, keepAliveSeconds: 1, password: p1 }), big, /password: not allowed without a username/],
  ["password over 65535 bytes", (b) => encodeConnect(b, { clientId: "c", cleanSession: true, keepAliveSeconds: 1, username: "u", password: new Uint8Array(65_536) }), big, /password: 65536 bytes/],
  ["keep-alive over 65535 s", (b) => encodeConnect(b, { clientId: "c", cleanSession: true, keepAliveSeconds: 65_536 }), big, /keepAliveSeconds: 65536/],
  ["negative keep-alive", (b) => encodeConnect(b, { clientId: "c", cleanSession: true, keepAliveSeconds: -1 }), big, /keepAliveSeconds: -1/],
];

for (const [name, encode, size, pattern] of invalid) {
  test(`encoder rejects ${name} with a RangeError naming the field, writing nothing`, () => {
    const target = new Uint8Array(size).fill(0xee);
    assert.throws(() => encode(target), (e: unknown) => e instanceof RangeError && pattern.test(e.message));
    assert.ok(target.every((b) => b === 0xee), "buffer written before the input was rejected");
  });
}

test("the same encoders accept the boundary values they reject just past", () => {
  assert.is(encodePublish(new Uint8Array(12), "topic", p1, 1, 65_535, false), 12);
  assert.is(encodeConnect(new Uint8Array(25), { clientId: "device-0001", cleanSession: true, keepAliveSeconds: 65_535 }), 25);
  assert.is(encodePingreq(new Uint8Array(2)), 2);
});

// ---- reader, against packets generated by mqtt-packet ----

type Seen = Record<string, unknown>;

function record(maxPacketBytes = MAX_INCOMING_PACKET_BYTES): { reader: MqttPacketReader; packets: Seen[] } {
  const packets: Seen[] = [];
  const handler: MqttPacketHandler = {
    connack: (sessionPresent, returnCode) => packets.push({ type: "connack", sessionPresent, returnCode }),
    puback: (packetId) => packets.push({ type: "puback", packetId }),
    pingresp: () => packets.push({ type: "pingresp" }),
    suback: (packetId, granted) => packets.push({ type: "suback", packetId, granted: Array.from(granted) }),
    publish: (topic, payload, qos, packetId, dup, retain) =>
      packets.push({ type: "publish", topic, payload: payload.length > 64 ? payload.length : Array.from(payload), qos, packetId, dup, retain }),
  };
  return { reader: new MqttPacketReader(handler, maxPacketBytes), packets };
}

const incoming: [mqttPacket.Packet, Seen][] = [
  [{ cmd: "connack", sessionPresent: false, returnCode: 0 }, { type: "connack", sessionPresent: false, returnCode: 0 }],
  [{ cmd: "connack", sessionPresent: true, returnCode: 0 }, { type: "connack", sessionPresent: true, returnCode: 0 }],
  [{ cmd: "connack", sessionPresent: false, returnCode: 5 }, { type: "connack", sessionPresent: false, returnCode: 5 }],
  [{ cmd: "puback", messageId: 1 }, { type: "puback", packetId: 1 }],
  [{ cmd: "puback", messageId: 65_535 }, { type: "puback", packetId: 65_535 }],
  [{ cmd: "pingresp" }, { type: "pingresp" }],
  [{ cmd: "suback", messageId: 77, granted: [0, 1, 2, 128] }, { type: "suback", packetId: 77, granted: [0, 1, 2, 128] }],
  [{ cmd: "publish", topic: "cmd/dev-1", payload: Buffer.from([1, 2, 3]), qos: 0, dup: false, retain: false },
    { type: "publish", topic: "cmd/dev-1", payload: [1, 2, 3], qos: 0, packetId: 0, dup: false, retain: false }],
  [{ cmd: "publish", topic: "cmd/ü/😀", payload: Buffer.alloc(0), qos: 1, messageId: 4_242, dup: true, retain: true },
    { type: "publish", topic: "cmd/ü/😀", payload: [], qos: 1, packetId: 4_242, dup: true, retain: true }],
  [{ cmd: "publish", topic: "big", payload: Buffer.alloc(500, 7), qos: 1, messageId: 3, dup: false, retain: false },
    { type: "publish", topic: "big", payload: 500, qos: 1, packetId: 3, dup: false, retain: false }],
];
const stream = Buffer.concat(incoming.map(([p]) => mqttPacket.generate(p)));
const expected = incoming.map(([, seen]) => seen);

test("reader decodes every packet mqtt-packet generates, each fed whole", () => {
  const got = record();
  for (const [p] of incoming) got.reader.feed(mqttPacket.generate(p));
  assert.equal(got.packets, expected);
});

test("reader decodes the same stream fed 1 byte at a time", () => {
  const got = record();
  for (let i = 0; i < stream.length; i++) got.reader.feed(stream.subarray(i, i + 1));
  assert.equal(got.packets, expected);
});

test("reader decodes the same stream as one chunk holding every packet", () => {
  const got = record();
  got.reader.feed(stream);
  assert.equal(got.packets, expected);
});

test("reader decodes the same stream cut at many points into three reads", () => {
  for (let cut = 1; cut < stream.length; cut += 3) {
    const got = record();
    got.reader.feed(stream.subarray(0, cut));
    got.reader.feed(stream.subarray(cut, cut + 5));
    got.reader.feed(stream.subarray(cut + 5));
    assert.equal(got.packets, expected, `cut at ${cut}`);
  }
});

// ---- reader faults ----

const malformed: [string, number[], string, RegExp][] = [
  ["CONNACK with flags [MQTT-2.2.2-2]", [0x21, 2, 0, 0], "flags", /CONNACK fixed-header flags 0x1 must be 0/],
  ["PUBACK with flags [MQTT-2.2.2-2]", [0x42, 2, 0, 1], "flags", /PUBACK fixed-header flags 0x2/],
  ["SUBACK with flags [MQTT-2.2.2-2]", [0x98, 3, 0, 1, 0], "flags", /SUBACK fixed-header flags 0x8/],
  ["PINGRESP with flags [MQTT-2.2.2-2]", [0xd1, 0], "flags", /PINGRESP fixed-header flags 0x1/],
  ["PUBLISH with QoS 3 [MQTT-3.3.1-4]", [0x36, 5, 0, 1, 0x61, 0, 1], "flags", /QoS 3/],
  ["PUBLISH with QoS 2", [0x34, 5, 0, 1, 0x61, 0, 1], "flags", /QoS 2/],
  ["PUBLISH with QoS 0 and DUP [MQTT-3.3.1-2]", [0x38, 3, 0, 1, 0x61], "flags", /QoS 0 and DUP/],
  ["remaining length longer than 4 bytes", [0x30, 0xff, 0xff, 0xff, 0xff, 0x01], "remaining-length", /longer than 4 bytes/],
  ["packet over MAX_INCOMING_PACKET_BYTES", [0x30, 0x80, 0x08], "too-large", /PUBLISH of 1027 bytes exceeds MAX_INCOMING_PACKET_BYTES \(1024\)/],
  ["reserved packet type 0", [0x00, 0], "packet-type", /reserved \(0\)/],
  ["reserved packet type 15", [0xf0, 0], "packet-type", /reserved \(15\)/],
  ["CONNECT sent to a client", [0x10, 0], "packet-type", /CONNECT/],
  ["PUBREC, for QoS 2 this client never uses", [0x50, 2, 0, 1], "packet-type", /PUBREC/],
  ["UNSUBACK, for an unsubscribe never sent", [0xb0, 2, 0, 1], "packet-type", /UNSUBACK/],
  ["CONNACK of length 3", [0x20, 3, 0, 0, 0], "length", /CONNACK with remaining length 3/],
  ["CONNACK of length 1", [0x20, 1, 0], "length", /CONNACK with remaining length 1/],
  ["CONNACK with reserved acknowledge flags", [0x20, 2, 0x02, 0], "connack", /bits 7-1 are reserved/],
  ["CONNACK session present with a refusal [MQTT-3.2.2-4]", [0x20, 2, 1, 5], "connack", /session present with return code 5/],
  ["PUBACK of length 3", [0x40, 3, 0, 1, 0], "length", /PUBACK with remaining length 3/],
  ["PUBACK for packet id 0 [MQTT-2.3.1-1]", [0x40, 2, 0, 0], "packet-id", /PUBACK packet id 0/],
  ["PINGRESP with a body", [0xd0, 1, 0], "length", /PINGRESP with remaining length 1/],
  ["SUBACK without return codes", [0x90, 2, 0, 1], "length", /SUBACK with remaining length 2/],
  ["SUBACK return code 3 [MQTT-3.9.3-2]", [0x90, 3, 0, 1, 3], "suback", /return code 0x3/],
  ["PUBLISH too short for a topic", [0x30, 2, 0, 0], "length", /PUBLISH with remaining length 2/],
  ["PUBLISH topic overrunning the packet", [0x30, 4, 0, 9, 0x61, 0x62], "length", /topic length 9 overruns/],
  ["PUBLISH QoS 1 without room for a packet id", [0x32, 4, 0, 1, 0x61, 0], "length", /PUBLISH with remaining length 4/],
  ["PUBLISH with an empty topic [MQTT-4.7.3-1]", [0x30, 3, 0, 0, 0x61], "topic", /topic is empty/],
  ["PUBLISH QoS 1 packet id 0 [MQTT-2.3.1-1]", [0x32, 5, 0, 1, 0x61, 0, 0], "packet-id", /PUBLISH packet id 0/],
  ["PUBLISH topic with an overlong UTF-8 form [MQTT-1.5.3-1]", [0x30, 4, 0, 2, 0xc0, 0xaf], "utf8", /not well-formed UTF-8/],
  ["PUBLISH topic with an encoded surrogate [MQTT-1.5.3-1]", [0x30, 5, 0, 3, 0xed, 0xa0, 0x80], "utf8", /not well-formed UTF-8/],
  ["PUBLISH topic with U+0000 [MQTT-1.5.3-2]", [0x30, 4, 0, 2, 0x61, 0x00], "utf8", /not well-formed UTF-8/],
  ["PUBLISH topic with a truncated UTF-8 sequence", [0x30, 4, 0, 2, 0x61, 0xe2], "utf8", /not well-formed UTF-8/],
  ["PUBLISH topic with a wildcard [MQTT-3.3.2-2]", [0x30, 5, 0, 3, 0x61, 0x2f, 0x23], "topic", /contains a wildcard/],
];

for (const [name, bytes, fault, pattern] of malformed) {
  test(`reader rejects ${name}, then refuses further input`, () => {
    const got = record();
    const check = (e: unknown) => e instanceof MqttProtocolError && e.fault === fault && pattern.test(e.message);
    assert.throws(() => got.reader.feed(new Uint8Array(bytes)), check);
    assert.ok(got.reader.fault, "fault recorded");
    assert.throws(() => got.reader.feed(mqttPacket.generate({ cmd: "pingresp" })), check);
    assert.equal(got.packets, [], "nothing delivered");
  });
}

test("an oversize packet is refused at its header, before its body is buffered", () => {
  const got = record(64);
  assert.throws(() => got.reader.feed(new Uint8Array([0x30, 100])), (e: unknown) => e instanceof MqttProtocolError && e.fault === "too-large" && /\(64\)/.test(e.message));
});

test("packets before a fault in the same chunk are still delivered", () => {
  const got = record();
  assert.throws(() => got.reader.feed(new Uint8Array([0x40, 2, 0, 7, 0xf0, 0])), (e: unknown) => e instanceof MqttProtocolError && e.fault === "packet-type");
  assert.equal(got.packets, [{ type: "puback", packetId: 7 }]);
});

test("reset() makes a faulted reader usable for a new connection", () => {
  const got = record();
  assert.throws(() => got.reader.feed(new Uint8Array([0x30, 2])), (e: unknown) => e instanceof MqttProtocolError && e.fault === "length");
  got.reader.reset();
  assert.is(got.reader.fault, undefined);
  got.reader.feed(mqttPacket.generate({ cmd: "pingresp" }));
  assert.equal(got.packets, [{ type: "pingresp" }]);
});

test("reader rejects a limit too small to hold any packet", () => {
  assert.throws(() => record(3), (e: unknown) => e instanceof RangeError && /maxPacketBytes: 3/.test((e as Error).message));
});

test.run();
