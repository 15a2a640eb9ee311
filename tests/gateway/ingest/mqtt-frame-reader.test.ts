/*
 * The device listener's framing (hosts/gateway/ingest/mqtt-frame-reader.ts),
 * directly: frames however the bytes are cut, the size checked before a
 * body is kept, and a pause that keeps its place.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import mqtt from "mqtt-packet";
import { FrameReader, lengthBytes, type FrameSink } from "../../../hosts/gateway/ingest/mqtt-frame-reader.js";

type Frame = { first: number; body: number[] };

function collector(): { sink: FrameSink; frames: Frame[] } {
  const frames: Frame[] = [];
  return { frames, sink: (first, bytes, start, end) => (frames.push({ first, body: [...bytes.subarray(start, end)] }), true) };
}

const packets = [
  mqtt.generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, clientId: "s-1", keepalive: 30, username: "s-1", password: Buffer.from("secret") }),
  mqtt.generate({ cmd: "publish", topic: "xsedge/v1/s-1/up", payload: Buffer.alloc(200, 7), qos: 1, dup: false, retain: false, messageId: 9 }),
  mqtt.generate({ cmd: "pingreq" }),
  mqtt.generate({ cmd: "disconnect" }),
];
const stream = Buffer.concat(packets);
/** Where an encoded packet's body starts: after its first byte and its remaining length. */
function bodyStart(packet: Buffer): number {
  let i = 1;
  while (packet[i] & 0x80) i++;
  return i + 1;
}
const expected = packets.map((p) => ({ first: p[0], body: [...p.subarray(bodyStart(p))] }));

test("lengthBytes: the remaining length's size on the wire", () => {
  assert.equal([0, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 268_435_455].map(lengthBytes), [1, 1, 2, 2, 3, 3, 4, 4]);
});

test("whole packets in one chunk come out one by one, bodies as views", () => {
  const reader = new FrameReader(1024);
  const { sink, frames } = collector();
  assert.is(reader.read(stream, sink), "done");
  assert.equal(frames, expected);
  assert.not.ok(reader.midPacket);
});

test("the same packets cut at every byte come out the same", () => {
  for (const size of [1, 2, 3, 5, 7, 64]) {
    const reader = new FrameReader(1024);
    const { sink, frames } = collector();
    for (let at = 0; at < stream.length; at += size) assert.is(reader.read(stream.subarray(at, at + size), sink), "done");
    assert.equal(frames, expected, `chunks of ${size}`);
  }
});

test("a packet announcing 256 MB is refused on its header, before a byte of its body is kept", () => {
  const reader = new FrameReader(1024);
  const { sink, frames } = collector();
  // PUBLISH QoS 1, remaining length 268,435,455 (ff ff ff 7f): five bytes announce it.
  const header = Buffer.from([0x32, 0xff, 0xff, 0xff, 0x7f]);
  const fault = reader.read(header, sink);
  assert.equal(fault, { fault: "too-large", packetBytes: 1 + 4 + 268_435_455, first: 0x32 });
  assert.not.ok(reader.midPacket, "nothing of the body is held");
  assert.equal(reader.read(Buffer.alloc(4096), sink), fault, "and it stays refused");
  assert.is(frames.length, 0);
  // The limit counts the whole packet: 1,024 bytes in all pass, 1,025 do not.
  const limit = new FrameReader(1024);
  assert.is(limit.read(Buffer.concat([Buffer.from([0x30, 0xfd, 0x07]), Buffer.alloc(1021)]), sink), "done");
  assert.equal(new FrameReader(1024).read(Buffer.from([0x30, 0xfe, 0x07]), sink), { fault: "too-large", packetBytes: 1025, first: 0x30 });
});

test("the size is checked even when the header itself arrives in pieces", () => {
  const reader = new FrameReader(1024);
  const { sink } = collector();
  assert.is(reader.read(Buffer.from([0x10]), sink), "done");
  assert.is(reader.read(Buffer.from([0xff]), sink), "done");
  assert.equal(reader.read(Buffer.from([0xff, 0x01]), sink), { fault: "too-large", packetBytes: 1 + 3 + 32_767, first: 0x10 });
});

test("a remaining length of five bytes is malformed", () => {
  const { sink } = collector();
  assert.equal(new FrameReader(1024).read(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]), sink), { fault: "malformed", detail: "remaining length longer than 4 bytes" });
  const split = new FrameReader(1024);
  split.read(Buffer.from([0x30, 0x80, 0x80]), sink);
  assert.equal(split.read(Buffer.from([0x80, 0x80, 0x01]), sink), { fault: "malformed", detail: "remaining length longer than 4 bytes" });
});

test("a sink that pauses keeps the reader's place; resume goes on from there", () => {
  const reader = new FrameReader(1024);
  const seen: number[] = [];
  let room = 2;
  const sink: FrameSink = (first) => (seen.push(first >> 4), --room > 0);
  assert.is(reader.read(stream, sink), "paused");
  assert.equal(seen, [1, 3]);
  room = 10;
  assert.is(reader.resume(sink), "done");
  assert.equal(seen, [1, 3, 12, 14]);
  assert.throws(() => {
    room = 1;
    reader.read(stream, sink);
    reader.read(stream, sink);
  }, /while paused/);
});

test.run();
