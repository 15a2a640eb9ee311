/*
 * Moddable's `flash` module for the simulated device: a named partition whose
 * bytes the host keeps (a NOR model, file-backed so the log survives a
 * simulated reboot). Faults the host's chip raises (an illegal write, a power
 * cut) reach the app as exceptions, as they would from the SDK.
 */
import { Request, Status, fromUtf8, utf8 } from "./protocol.js";
import { frame, request } from "./bridge.js";

type Buffer = ArrayBuffer | ArrayBufferView;

function check(status: number, reply: { tail(): Uint8Array }, what: string): void {
  if (status === Status.FAILED || status === Status.POWER_OFF) throw new Error(`flash ${what}: ${fromUtf8(reply.tail())}`);
}

export default class Flash {
  readonly #name: string;
  readonly #handle: number;
  readonly byteLength: number;
  readonly blockSize: number;

  constructor(partition: string) {
    if (typeof partition !== "string" || partition.length === 0) throw new RangeError("flash: partition name required");
    const { status, reply } = request(frame(Request.FLASH_OPEN).tail(utf8(partition)), [Status.OK, Status.MISSING]);
    if (status === Status.MISSING) throw new Error(`flash: no partition "${partition}"`);
    this.#name = partition;
    this.#handle = reply.u8();
    this.byteLength = reply.u32();
    this.blockSize = reply.u32();
  }

  read(offset: number, byteLength: number): ArrayBuffer {
    const { status, reply } = request(frame(Request.FLASH_READ).u8(this.#handle).u32(offset).u32(byteLength), [Status.OK, Status.FAILED, Status.POWER_OFF]);
    check(status, reply, `${this.#name} read`);
    return reply.tail().slice().buffer;
  }

  write(offset: number, byteLength: number, buffer: Buffer): void {
    const bytes = buffer instanceof ArrayBuffer ? new Uint8Array(buffer, 0, byteLength) : new Uint8Array(buffer.buffer, buffer.byteOffset, byteLength);
    const { status, reply } = request(frame(Request.FLASH_WRITE).u8(this.#handle).u32(offset).tail(bytes), [Status.OK, Status.FAILED, Status.POWER_OFF]);
    check(status, reply, `${this.#name} write`);
  }

  erase(block: number): void {
    const { status, reply } = request(frame(Request.FLASH_ERASE).u8(this.#handle).u32(block), [Status.OK, Status.FAILED, Status.POWER_OFF]);
    check(status, reply, `${this.#name} erase`);
  }
}
