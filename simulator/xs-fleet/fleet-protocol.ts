/*
 * The protocol between the Node host and a fleet worker: one xsnap-worker
 * that runs many simulated devices, each in its own Compartment.
 *
 * Crossing the process boundary costs far more than a device's work per
 * sample, so the host and the worker exchange one STEP message per worker
 * per turn, not one per device event: the host sends every device's inputs
 * (socket bytes, boots, power cuts, part changes) in one frame, the worker
 * runs every timer that falls due and answers with every device's outputs
 * (socket opens and writes, trace lines, flash and preference changes,
 * halts) in one reply. A device's flash chip, preferences and parts live in
 * the worker; only I2C to a part modelled on the host (a user's own model)
 * crosses synchronously, prefixed with the device's index.
 *
 * Step (host → worker, as xsnap's `?` message):
 *   [u8 STEP][u8 flags][f64 until] then input records
 * Input record: [u8 kind][u32 device][f64 at][payload]
 * Reply: [f64 next deadline, or NO_DEADLINE][f64 reached] then output records
 * Output record: [u8 kind][u32 device][f64 at][payload]
 * Synchronous request (worker → host, issueCommand): [u32 device][f64 at, the
 *   device's clock][u8 op][payload], op from ../xs-host/protocol.ts's Request;
 *   or [u32 WORKER] then output records, when the worker's output buffer is
 *   full mid-step.
 *
 * Shared by both sides: keep it pure (XS built-ins only).
 */

export const STEP = 1;

export const StepFlags = Object.freeze({
  /** Virtual time: `until` is the end of a window and is not itself processed. */
  EXCLUSIVE: 1,
});

export const Input = Object.freeze({
  COMPILE: 1, // device 0; u16 app, u32 length, UTF-8 source of an app bundle (an ES module)
  BOOT: 2, // u16 app, u32 seed, then (each u32 length, UTF-8 JSON) mc/config, the parts, the preferences
  //         ([domain, key, value], a buffer as an array of bytes), then u8 partitions, each: u32 length, UTF-8
  //         name, u32 block size, u32 blocks, u32 length, bytes, u32 length, erase counts (u32 each), then
  //         u32 length, UTF-8 JSON of the app's links: {modules: {specifier: compiled id}, values: [specifier]}
  HALT: 3, // no payload: power off, the device stops where it is
  TCP_WRITABLE: 4, // u16 socket, u32 bytes the socket may take now
  TCP_DATA: 5, // u16 socket, u32 length, bytes
  TCP_ERROR: 6, // u16 socket, u32 length, UTF-8 reason
  PARTS: 7, // u32 length, UTF-8 JSON of part changes (signals, faults)
  PROBE: 8, // no payload: answered by a PROBED output
  POWER_CUT: 9, // u32 operations, u8 kind (0 any, 1 write, 2 erase), u32 seed: the next flash operation after that many tears
});

export const Output = Object.freeze({
  TCP_OPEN: 1, // u16 socket, u16 port, u32 length, UTF-8 address
  TCP_WRITE: 2, // u16 socket, u32 length, bytes
  TCP_CLOSE: 3, // u16 socket
  TRACE: 4, // u32 length, UTF-8 line
  UNCAUGHT: 5, // u32 length, UTF-8 text of an exception that escaped the app
  HALTED: 6, // u32 length, UTF-8 reason: the device stopped (power cut in a flash operation, a boot that threw)
  PROBED: 7, // u32 length, UTF-8 JSON: the device's parts' last values, timers, sockets
  COMPILED: 8, // device 0; u16 app, u32 length, UTF-8 error ("" when the bundle compiled)
  PREFERENCE: 9, // u32 length, UTF-8 JSON [domain, key, value]: a preference set (value null: deleted); a buffer is an array of bytes
  FLASH_WRITE: 10, // u8 partition, u32 offset, u32 length, the bytes the chip holds there now
  FLASH_ERASE: 11, // u8 partition, u32 block, u32 the block's erase count, u32 length, the bytes the block holds now
  RESTART: 12, // no payload: the app called System.restart(); the device is off, and the host boots it again
});

export const CUT_KINDS = ["any", "write", "erase"] as const;

export const NO_DEADLINE = -1;
/** The device index of records about the worker itself (a fault in its runtime, a compiled bundle). */
export const WORKER = 0xffffffff;
export const STEP_HEADER_BYTES = 10;
export const RECORD_HEADER_BYTES = 13;
export const REPLY_HEADER_BYTES = 16;

/** Bytes of output the worker buffers before it hands them to the host mid-step. */
export const OUTPUT_FLUSH_BYTES = 1024 * 1024;
/** Upper bound on one step's input frame the host builds; more inputs wait for the next step. */
export const MAX_STEP_INPUT_BYTES = 4 * 1024 * 1024;

const encoder = new TextEncoder();

/**
 * Appends records to a buffer that grows by doubling up to a bound; reused
 * for every message, so a steady fleet allocates nothing here.
 */
export class RecordWriter {
  private bytes: Uint8Array;
  private view: DataView;
  private readonly limit: number;
  at = 0;

  constructor(initial: number, limit: number) {
    this.bytes = new Uint8Array(initial);
    this.view = new DataView(this.bytes.buffer);
    this.limit = limit;
  }

  reset(): this {
    this.at = 0;
    return this;
  }

  private room(count: number): void {
    const need = this.at + count;
    if (need <= this.bytes.byteLength) return;
    if (need > this.limit) throw new RangeError(`fleet message of ${need} bytes exceeds ${this.limit}`);
    let size = this.bytes.byteLength * 2;
    while (size < need) size *= 2;
    const grown = new Uint8Array(Math.min(size, this.limit));
    grown.set(this.bytes.subarray(0, this.at));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }

  u8(value: number): this {
    this.room(1);
    this.view.setUint8(this.at, value);
    this.at += 1;
    return this;
  }

  u16(value: number): this {
    this.room(2);
    this.view.setUint16(this.at, value, true);
    this.at += 2;
    return this;
  }

  u32(value: number): this {
    this.room(4);
    this.view.setUint32(this.at, value, true);
    this.at += 4;
    return this;
  }

  f64(value: number): this {
    this.room(8);
    this.view.setFloat64(this.at, value, true);
    this.at += 8;
    return this;
  }

  /** A record's header. */
  record(kind: number, device: number, at: number): this {
    return this.u8(kind).u32(device).f64(at);
  }

  /** The bytes as they are (a request's last field). */
  tail(bytes: Uint8Array): this {
    this.room(bytes.byteLength);
    this.bytes.set(bytes, this.at);
    this.at += bytes.byteLength;
    return this;
  }

  /** u32 length, then the bytes. */
  sized(bytes: Uint8Array): this {
    this.u32(bytes.byteLength);
    this.room(bytes.byteLength);
    this.bytes.set(bytes, this.at);
    this.at += bytes.byteLength;
    return this;
  }

  /** u32 length, then the UTF-8 of `text`. */
  text(text: string): this {
    return this.sized(encoder.encode(text));
  }

  /** Overwrites 8 bytes already written (a header whose value is known only at the end). */
  patchF64(offset: number, value: number): void {
    this.view.setFloat64(offset, value, true);
  }

  /** A copy of what was written, as xsnap sends whole ArrayBuffers. */
  finish(): ArrayBuffer {
    return this.bytes.buffer.slice(0, this.at) as ArrayBuffer;
  }

  /** A view of what was written (no copy; valid until the next write). */
  view8(): Uint8Array {
    return this.bytes.subarray(0, this.at);
  }
}
