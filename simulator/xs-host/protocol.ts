/// <reference path="./xsnap-globals.d.ts" />
/*
 * The simulator's bridge protocol between the Node host and the host modules
 * inside xsnap-worker. It rides on xsnap's own channel: the host's `?<bytes>`
 * becomes a call of `handleCommand`, and the worker's synchronous
 * `issueCommand(bytes)` reaches the host, which answers before XS continues.
 *
 * Frames are small binary records (DataView, little-endian) rather than JSON
 * because TCP payloads are bytes and because every device message crosses
 * here twice per sample. This module is shared by both sides: keep it pure.
 *
 * Host → XS event:  [op u8][now f64: host wall clock, ms][payload]
 * XS  → host reply: [next timer deadline f64, or -1 when no timer is set]
 * XS  → host request: [op u8][payload]   host reply: [status u8][payload]
 */

/** Events the host delivers into XS. */
export const Event = Object.freeze({
  BOOT: 1, // payload: UTF-8 JSON of the device's mc/config; runs the app's main()
  TICK: 2, // no payload: fire the timers that are due
  TCP_WRITABLE: 3, // u16 socket, u32 bytes the socket may take now
  TCP_DATA: 4, // u16 socket, bytes received
  TCP_ERROR: 5, // u16 socket, UTF-8 reason (includes an orderly close by the peer)
});

/** Requests XS makes of the host, answered synchronously. */
export const Request = Object.freeze({
  LOG: 0x20, // u8 level, UTF-8 text
  UNCAUGHT: 0x21, // UTF-8 text of an exception that escaped a callback
  DELAY: 0x22, // f64 ms: Timer.delay; the host moves the device's clock on
  RESTART: 0x23, // System.restart(): the host power-cycles the device after this event (REFUSED: it cannot)
  TCP_OPEN: 0x30, // u16 socket, u16 port, UTF-8 address
  TCP_WRITE: 0x31, // u16 socket, bytes → u32 bytes still writable
  TCP_CLOSE: 0x32, // u16 socket
  I2C_WRITE: 0x40, // u8 address, u8 stop, bytes
  I2C_READ: 0x41, // u8 address, u8 stop, u16 count → bytes
  PREF_GET: 0x50, // UTF-8 "domain\0key" → u8 type, value
  PREF_SET: 0x51, // UTF-8 "domain\0key", u8 type, value
  PREF_DELETE: 0x52, // UTF-8 "domain\0key"
  PREF_KEYS: 0x53, // UTF-8 domain → UTF-8 keys joined by \0
  SENSOR_OPEN: 0x70, // UTF-8 JSON {specifier, sensor}: a value model stands in for that driver → u16 handle (MISSING: none)
  SENSOR_SAMPLE: 0x71, // u16 handle → UTF-8 JSON of the sample (FAILED: the model threw; its message follows)
  SENSOR_CONFIGURE: 0x72, // u16 handle, UTF-8 JSON of the options
  FLASH_OPEN: 0x60, // UTF-8 partition name → u8 handle, u32 byteLength, u32 blockSize
  FLASH_READ: 0x61, // u8 handle, u32 offset, u32 length → bytes
  FLASH_WRITE: 0x62, // u8 handle, u32 offset, bytes
  FLASH_ERASE: 0x63, // u8 handle, u32 block
});

export const Status = Object.freeze({
  OK: 0,
  NACK: 1, // an I2C target did not acknowledge
  REFUSED: 2, // the host refused the request (bad address, unknown socket)
  MISSING: 3, // preference not set, or no flash partition of that name
  FAILED: 4, // the host's device raised an error; its message follows as UTF-8
  POWER_OFF: 5, // a power cut landed in this flash operation; its message follows as UTF-8
});

export const LogLevel = Object.freeze({ TRACE: 0, WARN: 1, ERROR: 2 });

/** Preference value types, as Moddable's `preference` module stores them. */
export const PrefType = Object.freeze({ BOOLEAN: 1, INTEGER: 2, STRING: 3, BUFFER: 4 });

export const EVENT_HEADER_BYTES = 9;
export const NO_DEADLINE = -1;

/** The largest frame either side builds: bounds TCP chunks and I2C transfers. */
export const MAX_FRAME_BYTES = 64 * 1024;

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

export function utf8(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

export function fromUtf8(bytes: Uint8Array): string {
  return utf8Decoder.decode(bytes);
}

/** Builds one frame: an op byte followed by fixed fields and an optional tail. */
export class FrameWriter {
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private at = 0;

  constructor(capacity: number) {
    this.bytes = new Uint8Array(capacity);
    this.view = new DataView(this.bytes.buffer);
  }

  reset(): this {
    this.at = 0;
    return this;
  }

  u8(value: number): this {
    this.view.setUint8(this.at, value);
    this.at += 1;
    return this;
  }

  u16(value: number): this {
    this.view.setUint16(this.at, value, true);
    this.at += 2;
    return this;
  }

  u32(value: number): this {
    this.view.setUint32(this.at, value, true);
    this.at += 4;
    return this;
  }

  f64(value: number): this {
    this.view.setFloat64(this.at, value, true);
    this.at += 8;
    return this;
  }

  tail(bytes: Uint8Array): this {
    if (this.at + bytes.byteLength > this.bytes.byteLength) {
      throw new RangeError(`bridge frame too large: ${this.at + bytes.byteLength} bytes, limit ${this.bytes.byteLength}`);
    }
    this.bytes.set(bytes, this.at);
    this.at += bytes.byteLength;
    return this;
  }

  /** A copy sized to what was written: xsnap sends whole ArrayBuffers. */
  finish(): ArrayBuffer {
    return this.bytes.buffer.slice(0, this.at) as ArrayBuffer;
  }
}

/** Reads the fields of one frame in order. */
export class FrameReader {
  private readonly view: DataView;
  private readonly data: Uint8Array;
  private at = 0;

  constructor(buffer: ArrayBuffer | Uint8Array) {
    this.data = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
    this.view = new DataView(this.data.buffer, this.data.byteOffset, this.data.byteLength);
  }

  get remaining(): number {
    return this.data.byteLength - this.at;
  }

  private need(count: number): void {
    if (this.remaining < count) throw new RangeError(`bridge frame truncated: need ${count} bytes at ${this.at}, have ${this.remaining}`);
  }

  u8(): number {
    this.need(1);
    return this.view.getUint8(this.at++);
  }

  u16(): number {
    this.need(2);
    const value = this.view.getUint16(this.at, true);
    this.at += 2;
    return value;
  }

  u32(): number {
    this.need(4);
    const value = this.view.getUint32(this.at, true);
    this.at += 4;
    return value;
  }

  f64(): number {
    this.need(8);
    const value = this.view.getFloat64(this.at, true);
    this.at += 8;
    return value;
  }

  /** The next `count` bytes, as a view (no copy). */
  bytes(count: number): Uint8Array {
    this.need(count);
    const view = this.data.subarray(this.at, this.at + count);
    this.at += count;
    return view;
  }

  /** The rest of the frame, as a view (no copy). */
  tail(): Uint8Array {
    const rest = this.data.subarray(this.at);
    this.at = this.data.byteLength;
    return rest;
  }
}
