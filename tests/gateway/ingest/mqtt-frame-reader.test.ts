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
  // CONNECT, then PUBLISH QoS 1 with remaining length 268,435,455 (ff ff ff 7f): five bytes announce it.
  assert.is(reader.read(packets[0], sink), "done");
  const header = Buffer.from([0x32, 0xff, 0xff, 0xff, 0x7f]);
  const fault = reader.read(header, sink);
  assert.equal(fault, { fault: "too-large", packetBytes: 1 + 4 + 268_435_455, first: 0x32 });
  assert.not.ok(reader.midPacket, "nothing of the body is held");
  assert.equal(reader.read(Buffer.alloc(4096), sink), fault, "and it stays refused");
  assert.is(frames.length, 1, "the CONNECT only");
  // A CONNECT announcing as much, before anything else, is refused the same way.
  assert.equal(new FrameReader(1024).read(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]), sink), { fault: "too-large", packetBytes: 1 + 4 + 268_435_455, first: 0x10 });
  // The limit counts the whole packet: 1,024 bytes in all pass, 1,025 do not.
  const limit = new FrameReader(1024);
  assert.is(limit.read(Buffer.concat([packets[0], Buffer.from([0x30, 0xfd, 0x07]), Buffer.alloc(1021)]), sink), "done");
  assert.equal(new FrameReader(1024).read(Buffer.from([0x10, 0xfe, 0x07]), sink), { fault: "too-large", packetBytes: 1025, first: 0x10 });
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
  assert.equal(new FrameReader(1024).read(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x80, 0x01]), sink), { fault: "malformed", detail: "remaining length longer than 4 bytes" });
  const split = new FrameReader(1024);
  split.read(Buffer.from([0x10, 0x80, 0x80]), sink);
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
    const again = new FrameReader(1024);
    room = 1;
    again.read(stream, sink);
    again.read(stream, sink);
  }, /while paused/);
});

test("a header the protocol forbids ends the connection on its first bytes, before its body arrives", () => {
  const { sink, frames } = collector();
  const connect = packets[0];
  const faultOf = (bytes: number[], after: Buffer[] = [connect]) => {
    const reader = new FrameReader(1024);
    for (const packet of after) assert.is(reader.read(packet, sink), "done");
    // A first byte alone, or a header announcing 32 bytes of body, none of them sent.
    return reader.read(Buffer.from(bytes), sink);
  };
  assert.equal(faultOf([0x30], []), { fault: "not-connect-first", first: 0x30, detail: "its first packet is of type 3, not CONNECT [MQTT-3.1.0-1]" });
  assert.equal(faultOf([0x07], []), { fault: "malformed", detail: "reserved packet type 0" });
  assert.equal(faultOf([0x10, 32]), { fault: "unexpected-packet", first: 0x10, detail: "a second CONNECT [MQTT-3.1.0-2]" });
  assert.equal(faultOf([0x36]), { fault: "malformed", detail: "a PUBLISH with both QoS bits set [MQTT-3.3.1-4]" });
  assert.equal(faultOf([0xf0, 32]), { fault: "malformed", detail: "reserved packet type 15" });
  assert.equal(faultOf([0x80, 32]), { fault: "malformed", detail: "packet type 8 with flags 0 (must be 2) [MQTT-2.2.2-2]" });
  assert.equal(faultOf([0xc1, 0]), { fault: "malformed", detail: "packet type 12 with flags 1 (must be 0) [MQTT-2.2.2-2]" });
  // Allowed: PUBLISH with any QoS 0-2, DUP and RETAIN; SUBSCRIBE with flags 2 (its body judged later).
  assert.is(faultOf([0x3b, 0]), "done");
  assert.is(faultOf([0x82, 0]), "done");
  // Each CONNECT and the two allowed packets came out; nothing of a refused one did.
  assert.equal(frames.map((f) => f.first), [...Array(6).fill(0x10), 0x3b, 0x10, 0x82]);
});

test.run();
