/*
 * MQTT 3.1.1 framing for the device listener: cuts a connection's bytes
 * into control packets (fixed header byte, remaining length, body) without
 * ever buffering more than one packet of at most `maxPacketBytes`.
 *
 * The size is checked as soon as the remaining length is read, before a
 * byte of the body is kept: a CONNECT or PUBLISH announcing 256 MB costs
 * five bytes of header, not 256 MB [MQTT-2.2.3]. A body that lies whole in
 * the chunk just read is handed on as a view of it (no copy, no
 * allocation); only a body split across reads is assembled, into a buffer
 * of exactly its size.
 *
 * The sink may ask to stop (a connection with too many publishes awaiting
 * their commit): the reader keeps its place in the chunk and carries on
 * from there on `resume`. A header the protocol forbids (anything but
 * CONNECT first, reserved types and flags) is a fault on its first bytes,
 * so a stranger cannot hold a connection open with a body it never sends.
 * Pure: no sockets, no timers.
 */

/** The most bytes the remaining length can take (2.2.3). */
const MAX_LENGTH_BYTES = 4;

/** Gets each packet: `first` is the fixed header's first byte, the body is `bytes[start, end)`. Returns false to pause. */
export type FrameSink = (first: number, bytes: Buffer, start: number, end: number) => boolean;

/** Why a connection's bytes are not MQTT the listener will read: the connection must be closed. */
export type FrameFault =
  | { fault: "too-large"; packetBytes: number; first: number }
  | { fault: "malformed"; detail: string }
  /** A header the protocol forbids here, judged on its first byte (see `headerFault`). */
  | { fault: "not-connect-first" | "unexpected-packet"; first: number; detail: string };

/** "paused": the sink asked to stop; call `resume` to go on. */
export type FrameRead = "done" | "paused" | FrameFault;

export class FrameReader {
  readonly maxPacketBytes: number;
  /** The chunk being read, and where in it. */
  #chunk: Buffer | undefined;
  #at = 0;
  /** A fixed header split across reads: its bytes so far. */
  readonly #head = Buffer.alloc(1 + MAX_LENGTH_BYTES);
  #headBytes = 0;
  /** A body split across reads: where it is assembled, how much is in, and its first header byte. */
  #body: Buffer | undefined;
  #bodyFill = 0;
  #bodyFirst = 0;
  #fault: FrameFault | undefined;
  /** Whether this connection's CONNECT has been read. */
  #connected = false;

  constructor(maxPacketBytes: number) {
    if (!Number.isInteger(maxPacketBytes) || maxPacketBytes < 2) throw new RangeError(`maxPacketBytes must be an integer of at least 2, got ${maxPacketBytes}`);
    this.maxPacketBytes = maxPacketBytes;
  }

  /** Reads `chunk` (the reader must not be paused); the chunk is kept while any of it is unread. */
  read(chunk: Buffer, sink: FrameSink): FrameRead {
    if (this.#fault) return this.#fault;
    if (this.#chunk !== undefined) throw new Error("FrameReader.read while paused: resume first");
    this.#chunk = chunk;
    this.#at = 0;
    return this.resume(sink);
  }

  /** Goes on with the chunk a paused read left. */
  resume(sink: FrameSink): FrameRead {
    if (this.#fault) return this.#fault;
    const chunk = this.#chunk;
    if (chunk === undefined) return "done";
    const end = chunk.length;
    while (this.#at < end) {
      if (this.#body !== undefined) {
        if (!this.#fillBody(chunk, sink)) return this.#pausedOrFault();
        continue;
      }
      // The usual case: a whole fixed header in this chunk.
      let at = this.#at;
      let first: number;
      let length = 0;
      if (this.#headBytes === 0) {
        first = chunk[at];
        // Judged on its first byte: a stranger gets nothing held for a packet it may never finish.
        const wrong = this.#headerFault(first);
        if (wrong !== undefined) return this.#fail(wrong);
        let shift = 0;
        let i = at + 1;
        let complete = false;
        for (let n = 0; n < MAX_LENGTH_BYTES && i < end; n++) {
          const byte = chunk[i++];
          length += (byte & 0x7f) * 2 ** shift;
          shift += 7;
          if ((byte & 0x80) === 0) {
            complete = true;
            break;
          }
        }
        if (!complete) {
          if (i - at >= 1 + MAX_LENGTH_BYTES) return this.#fail({ fault: "malformed", detail: "remaining length longer than 4 bytes" });
          // Split header: keep its bytes for the next read.
          chunk.copy(this.#head, 0, at, end);
          this.#headBytes = end - at;
          this.#at = end;
          break;
        }
        at = i;
      } else {
        const header = this.#completeHead(chunk);
        if (header === undefined) break;
        if ("fault" in header) return this.#fail(header);
        first = header.first;
        length = header.length;
        at = this.#at;
      }
      const packetBytes = 1 + lengthBytes(length) + length;
      if (packetBytes > this.maxPacketBytes) return this.#fail({ fault: "too-large", packetBytes, first });
      if (end - at >= length) {
        this.#at = at + length;
        if (!sink(first, chunk, at, at + length)) return this.#pausedOrFault();
        continue;
      }
      // A body split across reads: assembled in a buffer of its own size, which the check above bounds.
      this.#body = Buffer.allocUnsafe(length);
      this.#bodyFirst = first;
      this.#bodyFill = chunk.copy(this.#body, 0, at, end);
      this.#at = end;
    }
    this.#chunk = undefined;
    return "done";
  }

  /** True while the reader is paused with part of a chunk unread: `resume` before the next `read`. */
  get holding(): boolean {
    return this.#chunk !== undefined;
  }

  /** True while a body or header is only partly read (a packet is on its way). */
  get midPacket(): boolean {
    return this.#body !== undefined || this.#headBytes > 0;
  }

  #pausedOrFault(): FrameRead {
    if (this.#chunk !== undefined && this.#at >= this.#chunk.length) this.#chunk = undefined;
    return this.#chunk === undefined ? "done" : "paused";
  }

  /** Adds this chunk's bytes to a split body; hands it on once whole. False: the sink paused. */
  #fillBody(chunk: Buffer, sink: FrameSink): boolean {
    const body = this.#body!;
    const copied = chunk.copy(body, this.#bodyFill, this.#at, Math.min(chunk.length, this.#at + body.length - this.#bodyFill));
    this.#bodyFill += copied;
    this.#at += copied;
    if (this.#bodyFill < body.length) return true;
    this.#body = undefined;
    return sink(this.#bodyFirst, body, 0, body.length);
  }

  /** Completes a header split across reads; undefined when this chunk still does not finish it. */
  #completeHead(chunk: Buffer): { first: number; length: number } | FrameFault | undefined {
    while (this.#at < chunk.length) {
      const byte = chunk[this.#at++];
      this.#head[this.#headBytes++] = byte;
      if ((byte & 0x80) === 0) {
        let length = 0;
        for (let n = 1; n < this.#headBytes; n++) length += (this.#head[n] & 0x7f) * 2 ** (7 * (n - 1));
        const first = this.#head[0];
        this.#headBytes = 0;
        return { first, length };
      }
      if (this.#headBytes >= 1 + MAX_LENGTH_BYTES) return { fault: "malformed", detail: "remaining length longer than 4 bytes" };
    }
    return undefined;
  }

  /**
   * Why a fixed header's first byte ends the connection, judged before its
   * length and body are read: the first packet must be CONNECT and no other
   * may be [MQTT-3.1.0-1, 3.1.0-2], types 0 and 15 are reserved, and each
   * type's flags are fixed but PUBLISH's, whose QoS may not be 3
   * [MQTT-2.2.2-2, 3.3.1-4].
   */
  #headerFault(first: number): FrameFault | undefined {
    const type = first >> 4;
    const flags = first & 0x0f;
    if (type === 0 || type === 15) return { fault: "malformed", detail: `reserved packet type ${type}` };
    if (!this.#connected && type !== 1) return { fault: "not-connect-first", first, detail: `its first packet is of type ${type}, not CONNECT [MQTT-3.1.0-1]` };
    if (this.#connected && type === 1) return { fault: "unexpected-packet", first, detail: "a second CONNECT [MQTT-3.1.0-2]" };
    this.#connected = true;
    if (type === 3) return (flags & 0x06) === 0x06 ? { fault: "malformed", detail: "a PUBLISH with both QoS bits set [MQTT-3.3.1-4]" } : undefined;
    const required = type === 6 || type === 8 || type === 10 ? 0x02 : 0;
    return flags === required ? undefined : { fault: "malformed", detail: `packet type ${type} with flags ${flags} (must be ${required}) [MQTT-2.2.2-2]` };
  }

  #fail(fault: FrameFault): FrameFault {
    this.#fault = fault;
    this.#chunk = undefined;
    this.#body = undefined;
    return fault;
  }
}

/** Bytes the remaining length `n` takes on the wire. */
export function lengthBytes(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}
