/*
 * Incremental decoder for the packets a broker sends to this client.
 *
 * TCP delivers bytes, not packets: one read may end mid-packet or hold
 * several. The reader keeps a byte-at-a-time state machine for the fixed
 * header and decodes a body straight from the chunk when it arrived whole, so
 * the common case copies nothing; only a body split across reads is gathered
 * in a buffer allocated once. Checks are strict, because a device that guesses
 * at a malformed stream acknowledges the wrong message. After the first fault
 * the reader refuses all input until reset(): the byte stream has lost its
 * framing and nothing after the fault can be trusted.
 */
import { MqttProtocolError, PacketType } from "./codec.js";

export { MqttProtocolError };

/**
 * Largest packet accepted from the broker, header included. The device
 * receives acknowledgements (2 to 4 bytes) and, at most, small command
 * messages; anything larger is refused rather than buffered, because RAM on an
 * RP2040 is 264 KB for everything.
 */
export const MAX_INCOMING_PACKET_BYTES = 1024;

const TYPE_NAMES = ["reserved (0)", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
  "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "reserved (15)"];

/**
 * Receives decoded packets. Views (`payload`, `granted`) point into the
 * reader's buffer or the caller's chunk and are valid only during the call.
 */
export interface MqttPacketHandler {
  connack(sessionPresent: boolean, returnCode: number): void;
  puback(packetId: number): void;
  pingresp(): void;
  suback(packetId: number, granted: Uint8Array): void;
  /** `packetId` is 0 for QoS 0. */
  publish(topic: string, payload: Uint8Array, qos: 0 | 1, packetId: number, dup: boolean, retain: boolean): void;
}

const AT_HEADER = 0;
const AT_LENGTH = 1;
const AT_BODY = 2;

/** Decodes strict UTF-8 [MQTT-1.5.3-1], [MQTT-1.5.3-2]; undefined if malformed. */
function decodeUtf8(b: Uint8Array, at: number, end: number): string | undefined {
  let s = "";
  while (at < end) {
    const c = b[at++];
    let cp: number;
    let more: number;
    let min: number;
    if (c < 0x80) { cp = c; more = 0; min = 0; }
    else if ((c & 0xe0) === 0xc0) { cp = c & 0x1f; more = 1; min = 0x80; }
    else if ((c & 0xf0) === 0xe0) { cp = c & 0x0f; more = 2; min = 0x800; }
    else if ((c & 0xf8) === 0xf0) { cp = c & 0x07; more = 3; min = 0x10000; }
    else return undefined;
    if (at + more > end) return undefined;
    for (; more > 0; more--) {
      const d = b[at++];
      if ((d & 0xc0) !== 0x80) return undefined;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return undefined;
    s += String.fromCodePoint(cp);
  }
  return s;
}

export class MqttPacketReader {
  readonly #handler: MqttPacketHandler;
  readonly #buffer: Uint8Array;
  #state = AT_HEADER;
  #header = 0;
  #remaining = 0;
  #lengthBytes = 0;
  #multiplier = 1;
  #filled = 0;
  #fault: MqttProtocolError | undefined;

  constructor(handler: MqttPacketHandler, maxPacketBytes = MAX_INCOMING_PACKET_BYTES) {
    if (!Number.isInteger(maxPacketBytes) || maxPacketBytes < 4) throw new RangeError(`maxPacketBytes: ${maxPacketBytes} is not an integer of at least 4`);
    this.#handler = handler;
    this.#buffer = new Uint8Array(maxPacketBytes);
  }

  /** The fault that stopped this reader, if any. */
  get fault(): MqttProtocolError | undefined {
    return this.#fault;
  }

  /** Forgets any partial packet and fault: for a new connection. */
  reset(): void {
    this.#state = AT_HEADER;
    this.#fault = undefined;
  }

  /** Decodes every complete packet in `chunk`; throws MqttProtocolError on malformed input. */
  feed(chunk: Uint8Array): void {
    if (this.#fault) throw this.#fault;
    try {
      this.#feed(chunk);
    } catch (e) {
      if (e instanceof MqttProtocolError) this.#fault = e;
      throw e;
    }
  }

  #feed(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#state === AT_HEADER) {
        this.#header = chunk[at++];
        checkFixedHeader(this.#header);
        this.#state = AT_LENGTH;
        this.#remaining = 0;
        this.#lengthBytes = 0;
        this.#multiplier = 1;
      } else if (this.#state === AT_LENGTH) {
        const digit = chunk[at++];
        this.#remaining += (digit & 0x7f) * this.#multiplier;
        this.#multiplier *= 128;
        this.#lengthBytes++;
        if (digit & 0x80) {
          if (this.#lengthBytes === 4) throw new MqttProtocolError("remaining-length", "remaining length longer than 4 bytes");
          continue;
        }
        const total = 1 + this.#lengthBytes + this.#remaining;
        if (total > this.#buffer.length) {
          throw new MqttProtocolError("too-large", `${TYPE_NAMES[this.#header >> 4]} of ${total} bytes exceeds MAX_INCOMING_PACKET_BYTES (${this.#buffer.length})`);
        }
        checkLength(this.#header, this.#remaining);
        this.#filled = 0;
        this.#state = AT_BODY;
        if (chunk.length - at >= this.#remaining) {
          const end = at + this.#remaining;
          this.#state = AT_HEADER;
          this.#dispatch(chunk, at, end);
          at = end;
        }
      } else {
        const take = Math.min(this.#remaining - this.#filled, chunk.length - at);
        for (let i = 0; i < take; i++) this.#buffer[this.#filled + i] = chunk[at + i];
        this.#filled += take;
        at += take;
        if (this.#filled === this.#remaining) {
          this.#state = AT_HEADER;
          this.#dispatch(this.#buffer, 0, this.#remaining);
        }
      }
    }
  }

  #dispatch(b: Uint8Array, at: number, end: number): void {
    const type = this.#header >> 4;
    const h = this.#handler;
    if (type === PacketType.CONNACK) {
      const flags = b[at];
      const code = b[at + 1];
      if (flags & 0xfe) throw new MqttProtocolError("connack", `CONNACK acknowledge flags 0x${flags.toString(16)}: bits 7-1 are reserved and must be 0`);
      if (flags && code !== 0) throw new MqttProtocolError("connack", `CONNACK has session present with return code ${code} [MQTT-3.2.2-4]`);
      h.connack(flags === 1, code);
    } else if (type === PacketType.PUBACK) {
      h.puback(readPacketId(b, at, "PUBACK"));
    } else if (type === PacketType.PINGRESP) {
      h.pingresp();
    } else if (type === PacketType.SUBACK) {
      const id = readPacketId(b, at, "SUBACK");
      for (let i = at + 2; i < end; i++) {
        const g = b[i];
        if (g > 2 && g !== 0x80) throw new MqttProtocolError("suback", `SUBACK return code 0x${g.toString(16)} is not 0, 1, 2 or 0x80 [MQTT-3.9.3-2]`);
      }
      h.suback(id, b.subarray(at + 2, end));
    } else {
      this.#publish(b, at, end);
    }
  }

  #publish(b: Uint8Array, at: number, end: number): void {
    const qos = ((this.#header >> 1) & 3) as 0 | 1;
    const topicLength = (b[at] << 8) | b[at + 1];
    const topicEnd = at + 2 + topicLength;
    if (topicEnd + (qos ? 2 : 0) > end) throw new MqttProtocolError("length", `PUBLISH topic length ${topicLength} overruns the packet`);
    if (topicLength === 0) throw new MqttProtocolError("topic", "PUBLISH topic is empty [MQTT-4.7.3-1]");
    const topic = decodeUtf8(b, at + 2, topicEnd);
    if (topic === undefined) throw new MqttProtocolError("utf8", "PUBLISH topic is not well-formed UTF-8 [MQTT-1.5.3-1]");
    if (/[+#]/.test(topic)) throw new MqttProtocolError("topic", `PUBLISH topic "${topic}" contains a wildcard [MQTT-3.3.2-2]`);
    const packetId = qos ? readPacketId(b, topicEnd, "PUBLISH") : 0;
    const payloadAt = topicEnd + (qos ? 2 : 0);
    this.#handler.publish(topic, b.subarray(payloadAt, end), qos, packetId, (this.#header & 8) !== 0, (this.#header & 1) !== 0);
  }
}

function readPacketId(b: Uint8Array, at: number, name: string): number {
  const id = (b[at] << 8) | b[at + 1];
  if (id === 0) throw new MqttProtocolError("packet-id", `${name} packet id 0 [MQTT-2.3.1-1]`);
  return id;
}

/** Rejects a packet by its first byte, before any of its body is buffered. */
function checkFixedHeader(header: number): void {
  const type = header >> 4;
  const flags = header & 0x0f;
  const name = TYPE_NAMES[type];
  switch (type) {
    case PacketType.CONNACK:
    case PacketType.PUBACK:
    case PacketType.SUBACK:
    case PacketType.PINGRESP:
      if (flags !== 0) throw new MqttProtocolError("flags", `${name} fixed-header flags 0x${flags.toString(16)} must be 0 [MQTT-2.2.2-2]`);
      return;
    case PacketType.PUBLISH: {
      const qos = (flags >> 1) & 3;
      if (qos === 3) throw new MqttProtocolError("flags", "PUBLISH with QoS 3 [MQTT-3.3.1-4]");
      if (qos === 2) throw new MqttProtocolError("flags", "PUBLISH with QoS 2, which this client never subscribes with");
      if (qos === 0 && flags & 8) throw new MqttProtocolError("flags", "PUBLISH with QoS 0 and DUP set [MQTT-3.3.1-2]");
      return;
    }
    default:
      throw new MqttProtocolError("packet-type", `unexpected packet type ${name} (0x${header.toString(16)}) from the broker`);
  }
}

/** Rejects a wrong remaining length as soon as it is known. */
function checkLength(header: number, remaining: number): void {
  const type = header >> 4;
  const name = TYPE_NAMES[type];
  const qos = (header >> 1) & 3;
  const ok = type === PacketType.CONNACK || type === PacketType.PUBACK ? remaining === 2
    : type === PacketType.PINGRESP ? remaining === 0
    : type === PacketType.SUBACK ? remaining >= 3
    : remaining >= 3 + (qos ? 2 : 0);
  if (!ok) throw new MqttProtocolError("length", `${name} with remaining length ${remaining}`);
}
