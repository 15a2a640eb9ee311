/*
 * The MQTT 3.1.1 packets the device listener reads and writes. The ones on
 * every observation's path (PUBLISH in, PUBACK out, PINGREQ/PINGRESP) are
 * read and written here by hand: fixed layouts of a few bytes, where a
 * general parser's objects per packet would be most of the work. The rare
 * ones (CONNECT, SUBSCRIBE, UNSUBSCRIBE in; CONNACK, SUBACK, UNSUBACK and
 * downlink PUBLISH out) go through mqtt-packet, fed one whole frame at a
 * time by the frame reader, so it never buffers anything itself. Pure.
 */
import mqtt, { type Packet } from "mqtt-packet";

/** Control packet types, the fixed header's high nibble (2.2.1). */
export const CONNECT = 1;
export const PUBLISH = 3;
export const PUBACK = 4;
export const PUBREC = 5;
export const SUBSCRIBE = 8;
export const UNSUBSCRIBE = 10;
export const PINGREQ = 12;
export const DISCONNECT = 14;

/** CONNACK return codes (3.2.2.3). */
export const CONNACK_ACCEPTED = 0;
export const CONNACK_UNACCEPTABLE_PROTOCOL = 1;
export const CONNACK_IDENTIFIER_REJECTED = 2;
/** SUBACK return code for a refused subscription (3.9.3). */
export const SUBACK_FAILURE = 0x80;

export const PINGRESP_BYTES: Readonly<Buffer> = Buffer.from([0xd0, 0x00]);

/** The reserved flags SUBSCRIBE and UNSUBSCRIBE must carry [MQTT-3.8.1-1], [MQTT-3.10.1-1]. */
const REQUIRED_FLAGS_0010 = 0x02;

export interface PublishHeader {
  qos: number;
  retain: boolean;
  dup: boolean;
  /** The topic's bytes are body[topicStart, topicEnd). */
  topicStart: number;
  topicEnd: number;
  /** 0 for QoS 0. */
  messageId: number;
  payloadStart: number;
}

/** Reads a PUBLISH's variable header from its body into `out` (reused: no object per publish); what is wrong, or null. */
export function readPublishHeader(first: number, body: Buffer, start: number, end: number, out: PublishHeader): string | null {
  const qos = (first >> 1) & 0x03;
  if (qos === 3) return "PUBLISH with both QoS bits set [MQTT-3.3.1-4]";
  if (end - start < 2) return "PUBLISH without a topic";
  const topicStart = start + 2;
  const topicEnd = topicStart + body.readUInt16BE(start);
  let payloadStart = topicEnd;
  let messageId = 0;
  if (qos > 0) {
    if (topicEnd + 2 > end) return "PUBLISH shorter than its topic and message id";
    messageId = body.readUInt16BE(topicEnd);
    if (messageId === 0) return "PUBLISH with message id 0 [MQTT-2.3.1-1]";
    payloadStart += 2;
  } else if (topicEnd > end) return "PUBLISH shorter than its topic";
  out.qos = qos;
  out.retain = (first & 0x01) !== 0;
  out.dup = (first & 0x08) !== 0;
  out.topicStart = topicStart;
  out.topicEnd = topicEnd;
  out.messageId = messageId;
  out.payloadStart = payloadStart;
  return null;
}

/** Writes PUBACK `messageId` at `at` of `out` (4 bytes). */
export function writePuback(out: Buffer, at: number, messageId: number): void {
  out[at] = 0x40;
  out[at + 1] = 0x02;
  out[at + 2] = messageId >> 8;
  out[at + 3] = messageId & 0xff;
}

export function connackBytes(returnCode: number, sessionPresent: boolean): Buffer {
  return Buffer.from([0x20, 0x02, sessionPresent ? 0x01 : 0x00, returnCode]);
}

/** mqtt-packet's reading of one whole frame, or its error. A parser of its own each time: it keeps state between packets. */
export function parseWhole(bytes: Buffer): Packet | Error {
  const parser = mqtt.parser({ protocolVersion: 4 });
  let packet: Packet | Error = new Error("incomplete packet");
  parser.on("packet", (p: Packet) => (packet = p));
  parser.on("error", (e: Error) => (packet = e));
  parser.parse(bytes);
  return packet;
}

/** The frame as mqtt-packet wants it: header bytes again, then the body. */
export function frameBytes(first: number, body: Buffer, start: number, end: number): Buffer {
  const length = end - start;
  const header: number[] = [first];
  let n = length;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    header.push(byte);
  } while (n > 0);
  return Buffer.concat([Buffer.from(header), body.subarray(start, end)]);
}

/** SUBSCRIBE and UNSUBSCRIBE must have flags 0010 [MQTT-3.8.1-1]; mqtt-packet would reject otherwise, with a less useful message. */
export function hasRequiredFlags(first: number): boolean {
  return (first & 0x0f) === REQUIRED_FLAGS_0010;
}

export function subackBytes(messageId: number, granted: readonly number[]): Buffer {
  return mqtt.generate({ cmd: "suback", messageId, granted: [...granted] });
}

export function unsubackBytes(messageId: number): Buffer {
  return Buffer.from([0xb0, 0x02, messageId >> 8, messageId & 0xff]);
}

/** A QoS 1 PUBLISH to a device. */
export function downlinkPublishBytes(topic: string, messageId: number, payload: Uint8Array, dup: boolean): Buffer {
  return mqtt.generate({ cmd: "publish", topic, payload: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), qos: 1, dup, retain: false, messageId });
}
