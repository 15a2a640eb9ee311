/*
 * ECMA-419 `embedded:io/i2c` for the simulator: every transfer crosses to the
 * host, where a register-level model of the part answers. A missing part or a
 * refused byte is a NACK, which throws as it does on a board.
 */
import { Request, Status } from "./protocol.js";
import { frame, request } from "./bridge.js";

type Buffer = ArrayBuffer | ArrayBufferView;

export interface I2COptions {
  data: number;
  clock: number;
  hz: number;
  address: number;
  port?: number;
  format?: "buffer";
}

const MAX_TRANSFER = 4096;

function bytesOf(value: Buffer): Uint8Array {
  return value instanceof ArrayBuffer ? new Uint8Array(value) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

export default class I2C {
  readonly #address: number;
  #open = true;

  constructor(options: I2COptions) {
    const { address, hz } = options;
    if (!Number.isInteger(address) || address < 0 || address > 0x7f) throw new RangeError(`invalid I2C address ${address}`);
    if (!(hz > 0)) throw new RangeError(`invalid I2C hz ${hz}`);
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
    const { status } = request(frame(Request.I2C_WRITE).u8(this.#address).u8(stop ? 1 : 0).tail(bytes), [Status.OK, Status.NACK]);
    if (status === Status.NACK) throw new Error(`I2C write to 0x${this.#address.toString(16)}: no acknowledgement`);
  }

  read(count: number | Buffer, stop = true): ArrayBuffer | undefined {
    this.#check();
    const into = typeof count === "number" ? undefined : bytesOf(count);
    const length = into ? into.byteLength : count as number;
    if (!Number.isInteger(length) || length < 0 || length > MAX_TRANSFER) throw new RangeError(`invalid I2C read length ${length}`);
    const { status, reply } = request(frame(Request.I2C_READ).u8(this.#address).u8(stop ? 1 : 0).u16(length), [Status.OK, Status.NACK]);
    if (status === Status.NACK) throw new Error(`I2C read from 0x${this.#address.toString(16)}: no acknowledgement`);
    const data = reply.tail();
    if (into) {
      into.set(data.subarray(0, length));
      return undefined;
    }
    return data.slice(0, length).buffer as ArrayBuffer;
  }

  close(): void {
    this.#open = false;
  }

  #check(): void {
    if (!this.#open) throw new Error("I2C closed");
  }
}
