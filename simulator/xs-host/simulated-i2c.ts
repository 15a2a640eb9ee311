/*
 * ECMA-419 I2C over a simulated bus, for both simulators: the Node one
 * (xsnap-worker, each transfer bridged to the host's register models) and
 * Moddable's mcsim (hosts/desktop, models inside XS). Only the transport
 * differs; the argument checks and the NACK-throws-as-on-a-board behaviour
 * are this one class's. Pure: XS built-ins only.
 */
type Buffer = ArrayBuffer | ArrayBufferView;

/** How transfers reach the parts; the same shape as simulator/engine/i2c-bus.ts. */
export interface I2cTransport {
  /** False: not acknowledged. */
  write(address: number, bytes: Uint8Array, stop: boolean): boolean;
  /** Undefined: not acknowledged. */
  read(address: number, count: number, stop: boolean): Uint8Array | undefined;
}

export interface I2COptions {
  address: number;
  hz: number;
  data?: number;
  clock?: number;
  port?: number;
  format?: "buffer";
}

/** The largest transfer the SDK's ESP32 I2C takes in one call; anything bigger is a bug in the caller. */
export const MAX_TRANSFER = 4096;

function bytesOf(value: Buffer): Uint8Array {
  return value instanceof ArrayBuffer ? new Uint8Array(value) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

const hex = (address: number) => `0x${address.toString(16)}`;

/**
 * ECMA-419 I2C whose transfers go through a transport; a simulator's
 * `embedded:io/i2c` is a subclass that supplies it, so `new I2C(options)`
 * works as on a board.
 */
export class SimulatedI2C {
  readonly #transport: I2cTransport;
  readonly #address: number;
  #open = true;

  constructor(transport: I2cTransport, options: I2COptions) {
    this.#transport = transport;
    const { address, hz } = options;
    if (!Number.isInteger(address) || address < 0 || address > 0x7f) throw new RangeError(`invalid I2C address ${address}`);
    if (!(hz > 0)) throw new RangeError(`invalid I2C hz ${hz}`);
    if (options.format !== undefined && options.format !== "buffer") throw new RangeError(`unsupported I2C format ${String(options.format)}`);
    this.#address = address;
  }

  get format(): "buffer" {
    return "buffer";
  }

  set format(value: "buffer") {
    if (value !== "buffer") throw new RangeError(`unsupported I2C format ${String(value)}`);
  }

  write(value: Buffer, stop = true): void {
    this.#check();
    const bytes = bytesOf(value);
    if (bytes.byteLength > MAX_TRANSFER) throw new RangeError(`I2C write of ${bytes.byteLength} bytes exceeds ${MAX_TRANSFER}`);
    if (!this.#transport.write(this.#address, bytes, stop)) throw new Error(`I2C write to ${hex(this.#address)}: no acknowledgement`);
  }

  read(count: number | Buffer, stop = true): ArrayBuffer | undefined {
    this.#check();
    const into = typeof count === "number" ? undefined : bytesOf(count);
    const length = into ? into.byteLength : (count as number);
    if (!Number.isInteger(length) || length < 0 || length > MAX_TRANSFER) throw new RangeError(`invalid I2C read length ${length}`);
    const data = this.#transport.read(this.#address, length, stop);
    if (!data) throw new Error(`I2C read from ${hex(this.#address)}: no acknowledgement`);
    if (!into) return data.slice(0, length).buffer as ArrayBuffer;
    into.set(data.subarray(0, length));
    return undefined;
  }

  /** Moddable's combined transfer: `buffer` written without a stop, then a read (into `count` if it is a buffer). */
  writeRead(buffer: Buffer, count: number | Buffer, stop = true): ArrayBuffer | undefined {
    this.write(buffer, false);
    return this.read(count, stop);
  }

  close(): void {
    this.#open = false;
  }

  #check(): void {
    if (!this.#open) throw new Error("I2C closed");
  }
}
