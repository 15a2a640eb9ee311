/*
 * MQTT 3.1.1 packet encoding for the device's own client: pure, no I/O.
 *
 * Encoders write into a buffer the caller allocated once and return the
 * packet's length, so publishing makes no garbage. Every input is checked
 * before the first byte is written: a RangeError names the bad field, and the
 * buffer is left untouched.
 */

/** Packet types (fixed header bits 7-4), MQTT 3.1.1 table 2.1. */
export const PacketType = Object.freeze({
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  PUBREC: 5,
  PUBREL: 6,
  PUBCOMP: 7,
  SUBSCRIBE: 8,
  SUBACK: 9,
  UNSUBSCRIBE: 10,
  UNSUBACK: 11,
  PINGREQ: 12,
  PINGRESP: 13,
  DISCONNECT: 14,
} as const);

/** Largest value four remaining-length bytes can carry (section 2.2.3). */
export const MAX_REMAINING_LENGTH = 268_435_455;

/** UTF-8 strings and binary fields carry a two-byte length (section 1.5.3). */
export const MAX_STRING_BYTES = 65_535;

export const MAX_PACKET_ID = 65_535;

/** Protocol level 4 is MQTT 3.1.1 [MQTT-3.1.2-2]. */
export const PROTOCOL_LEVEL = 4;

const PUBLISH_DUP = 0x08;
const CONNECT_USERNAME = 0x80;
const CONNECT_PASSWORD = 0x40;
const CONNECT_CLEAN_SESSION = 0x02;

/**
 * Malformed input from the network. `fault` is a stable code for tests and
 * counters; the message names the packet and what was wrong with it.
 */
export class MqttProtocolError extends Error {
  // Defined, not assigned: on a board Error.prototype is frozen, and assigning over its name throws.
  override readonly name = "MqttProtocolError";
  readonly fault: string;
  constructor(fault: string, message: string) {
    super(`mqtt protocol error (${fault}): ${message}`);
    this.fault = fault;
  }
}

/**
 * Bytes `s` takes as UTF-8, after checking it is a well-formed MQTT string:
 * no lone surrogates [MQTT-1.5.3-1], no U+0000 [MQTT-1.5.3-2], at most 65535 bytes.
 */
export function utf8Length(s: string, field: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) throw new RangeError(`${field}: contains U+0000 [MQTT-1.5.3-2]`);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const low = s.charCodeAt(i + 1);
      if (!(low >= 0xdc00 && low <= 0xdfff)) throw new RangeError(`${field}: lone surrogate at index ${i} [MQTT-1.5.3-1]`);
      n += 4;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) throw new RangeError(`${field}: lone surrogate at index ${i} [MQTT-1.5.3-1]`);
    else n += 3;
  }
  if (n > MAX_STRING_BYTES) throw new RangeError(`${field}: ${n} UTF-8 bytes exceed ${MAX_STRING_BYTES}`);
  return n;
}

/** Writes `s` (already checked by utf8Length) at `at`; returns the offset after it. */
function writeUtf8(out: Uint8Array, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) out[at++] = c;
    else if (c < 0x800) {
      out[at++] = 0xc0 | (c >> 6);
      out[at++] = 0x80 | (c & 0x3f);
    } else if (c >= 0xd800 && c <= 0xdbff) {
      c = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00);
      out[at++] = 0xf0 | (c >> 18);
      out[at++] = 0x80 | ((c >> 12) & 0x3f);
      out[at++] = 0x80 | ((c >> 6) & 0x3f);
      out[at++] = 0x80 | (c & 0x3f);
    } else {
      out[at++] = 0xe0 | (c >> 12);
      out[at++] = 0x80 | ((c >> 6) & 0x3f);
      out[at++] = 0x80 | (c & 0x3f);
    }
  }
  return at;
}

function writeUint16(out: Uint8Array, at: number, v: number): number {
  out[at] = v >> 8;
  out[at + 1] = v & 0xff;
  return at + 2;
}

function writeString(out: Uint8Array, at: number, s: string, byteLength: number): number {
  return writeUtf8(out, writeUint16(out, at, byteLength), s);
}

/** Bytes the remaining-length field takes for `value` (1 to 4). */
export function remainingLengthSize(value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_REMAINING_LENGTH) {
    throw new RangeError(`remaining length: ${value} is not an integer from 0 to ${MAX_REMAINING_LENGTH}`);
  }
  return value < 128 ? 1 : value < 16_384 ? 2 : value < 2_097_152 ? 3 : 4;
}

/** Writes the remaining-length varint (section 2.2.3) at `at`; returns the offset after it. */
export function encodeRemainingLength(out: Uint8Array, at: number, value: number): number {
  const size = remainingLengthSize(value);
  if (at + size > out.length) throw new RangeError(`remaining length: ${size} bytes do not fit at offset ${at} of ${out.length}`);
  do {
    let digit = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) digit |= 0x80;
    out[at++] = digit;
  } while (value > 0);
  return at;
}

/**
 * Reads a remaining-length varint from bytes[at..end). Returns undefined while
 * the field is still incomplete; throws MqttProtocolError when a fourth byte
 * still has its continuation bit set (section 2.2.3).
 */
export function decodeRemainingLength(bytes: Uint8Array, at: number, end = bytes.length): { value: number; size: number } | undefined {
  let value = 0;
  let multiplier = 1;
  for (let size = 1; size <= 4; size++) {
    if (at + size > end) return undefined;
    const digit = bytes[at + size - 1];
    value += (digit & 0x7f) * multiplier;
    if ((digit & 0x80) === 0) return { value, size };
    multiplier *= 128;
  }
  throw new MqttProtocolError("remaining-length", "remaining length longer than 4 bytes");
}

function checkPacketId(id: number): void {
  if (!Number.isInteger(id) || id < 1 || id > MAX_PACKET_ID) {
    throw new RangeError(`packetId: ${id} is not an integer from 1 to ${MAX_PACKET_ID} [MQTT-2.3.1-1]`);
  }
}

/** Checks a PUBLISH topic name and returns its UTF-8 length. */
export function checkTopicName(topic: string): number {
  if (typeof topic !== "string" || topic.length === 0) throw new RangeError("topic: must be a non-empty string [MQTT-4.7.3-1]");
  const wildcard = topic.search(/[+#]/);
  if (wildcard >= 0) throw new RangeError(`topic: wildcard '${topic[wildcard]}' not allowed in a PUBLISH topic [MQTT-3.3.2-2]`);
  return utf8Length(topic, "topic");
}

/** Writes the fixed header; throws if the whole packet does not fit `out`. */
function writeFixedHeader(out: Uint8Array, name: string, first: number, remaining: number): number {
  const total = 1 + remainingLengthSize(remaining) + remaining;
  if (total > out.length) throw new RangeError(`${name}: packet of ${total} bytes does not fit the ${out.length}-byte buffer`);
  out[0] = first;
  return encodeRemainingLength(out, 1, remaining);
}

export interface ConnectFields {
  clientId: string;
  cleanSession: boolean;
  /** Seconds; 0 turns keep-alive off (section 3.1.2.10). */
  keepAliveSeconds: number;
  username?: string;
  password?: Uint8Array;
}

export function encodeConnect(out: Uint8Array, c: ConnectFields): number {
  const idBytes = utf8Length(c.clientId, "clientId");
  if (idBytes === 0 && !c.cleanSession) throw new RangeError("clientId: an empty client id requires cleanSession [MQTT-3.1.3-7]");
  if (!Number.isInteger(c.keepAliveSeconds) || c.keepAliveSeconds < 0 || c.keepAliveSeconds > 65_535) {
    throw new RangeError(`keepAliveSeconds: ${c.keepAliveSeconds} is not an integer from 0 to 65535`);
  }
  const hasUser = c.username !== undefined;
  const hasPassword = c.password !== undefined;
  if (hasPassword && !hasUser) throw new RangeError("password: not allowed without a username [MQTT-3.1.2-22]");
  const userBytes = hasUser ? utf8Length(c.username as string, "username") : 0;
  const password = c.password as Uint8Array;
  if (hasPassword && password.length > MAX_STRING_BYTES) throw new RangeError(`password: ${password.length} bytes exceed ${MAX_STRING_BYTES}`);
  // Variable header: "MQTT" name (6), level (1), flags (1), keep-alive (2).
  const remaining = 10 + 2 + idBytes + (hasUser ? 2 + userBytes : 0) + (hasPassword ? 2 + password.length : 0);
  let at = writeFixedHeader(out, "CONNECT", PacketType.CONNECT << 4, remaining);
  at = writeString(out, at, "MQTT", 4);
  out[at++] = PROTOCOL_LEVEL;
  out[at++] = (hasUser ? CONNECT_USERNAME : 0) | (hasPassword ? CONNECT_PASSWORD : 0) | (c.cleanSession ? CONNECT_CLEAN_SESSION : 0);
  at = writeUint16(out, at, c.keepAliveSeconds);
  at = writeString(out, at, c.clientId, idBytes);
  if (hasUser) at = writeString(out, at, c.username as string, userBytes);
  if (hasPassword) {
    at = writeUint16(out, at, password.length);
    out.set(password, at);
    at += password.length;
  }
  return at;
}

/** Length of the PUBLISH packet these fields make; throws RangeError on a bad topic. */
export function publishPacketLength(topic: string, payloadLength: number, qos: 0 | 1): number {
  const remaining = 2 + checkTopicName(topic) + (qos > 0 ? 2 : 0) + payloadLength;
  return 1 + remainingLengthSize(remaining) + remaining;
}

/**
 * PUBLISH with QoS 0 or 1 (this client never uses QoS 2). `packetId` is
 * ignored for QoS 0, which has none [MQTT-2.3.1-5].
 */
export function encodePublish(out: Uint8Array, topic: string, payload: Uint8Array, qos: 0 | 1, packetId: number, dup: boolean): number {
  if (qos !== 0 && qos !== 1) throw new RangeError(`qos: ${String(qos)} is not supported, only 0 and 1`);
  if (qos === 0 && dup) throw new RangeError("dup: must be false for QoS 0 [MQTT-3.3.1-2]");
  if (qos === 1) checkPacketId(packetId);
  const topicBytes = checkTopicName(topic);
  const remaining = 2 + topicBytes + (qos === 1 ? 2 : 0) + payload.length;
  let at = writeFixedHeader(out, "PUBLISH", (PacketType.PUBLISH << 4) | (dup ? PUBLISH_DUP : 0) | (qos << 1), remaining);
  at = writeString(out, at, topic, topicBytes);
  if (qos === 1) at = writeUint16(out, at, packetId);
  out.set(payload, at);
  return at + payload.length;
}

/** Marks an encoded PUBLISH as a re-delivery or not, in place [MQTT-3.3.1-1]. */
export function setPublishDup(packet: Uint8Array, dup: boolean): void {
  packet[0] = dup ? packet[0] | PUBLISH_DUP : packet[0] & ~PUBLISH_DUP;
}

/**
 * SUBSCRIBE to one topic (section 3.8). This client subscribes only to exact
 * topics (its own downlink), so a filter with wildcards is refused here.
 */
export function encodeSubscribe(out: Uint8Array, packetId: number, topic: string, qos: 0 | 1): number {
  checkPacketId(packetId);
  if (qos !== 0 && qos !== 1) throw new RangeError(`qos: ${String(qos)} is not supported, only 0 and 1`);
  const topicBytes = checkTopicName(topic);
  // [MQTT-3.8.1-1] fixed-header flags 0b0010.
  let at = writeFixedHeader(out, "SUBSCRIBE", (PacketType.SUBSCRIBE << 4) | 0b0010, 2 + 2 + topicBytes + 1);
  at = writeUint16(out, at, packetId);
  at = writeString(out, at, topic, topicBytes);
  out[at++] = qos;
  return at;
}

export function encodePuback(out: Uint8Array, packetId: number): number {
  checkPacketId(packetId);
  writeFixedHeader(out, "PUBACK", PacketType.PUBACK << 4, 2);
  writeUint16(out, 2, packetId);
  return 4;
}

export function encodePingreq(out: Uint8Array): number {
  return writeFixedHeader(out, "PINGREQ", PacketType.PINGREQ << 4, 0);
}

export function encodeDisconnect(out: Uint8Array): number {
  return writeFixedHeader(out, "DISCONNECT", PacketType.DISCONNECT << 4, 0);
}
