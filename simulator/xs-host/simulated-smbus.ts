/*
 * ECMA-419 SMBus over a simulated I2C class, for both simulators: the
 * register reads and writes the Moddable SDK's drivers make (`readUint16`
 * and the rest), as the SDK's own SMBus makes them over I2C on a board, so
 * its drivers (TMP117, MPU6050, ...) talk to register models unchanged.
 * Pure: XS built-ins only.
 */
import type { SimulatedI2C, I2COptions } from "./simulated-i2c.js";

type Buffer = ArrayBuffer | ArrayBufferView;

export interface SMBusOptions extends I2COptions {
  /** Stop between the register byte and the read (some parts want it); a repeated start otherwise. */
  stop?: boolean;
}

/** A simulator's `embedded:io/smbus` is a subclass that opens its own I2C, so `new SMBus(options)` works as on a board. */
export class SimulatedSMBus {
  readonly #io: SimulatedI2C;
  readonly #stop: boolean;
  readonly #register = new Uint8Array(1);
  readonly #word = new Uint8Array(2);
  readonly #write = new Uint8Array(3);

  constructor(io: SimulatedI2C, options: SMBusOptions) {
    this.#io = io;
    this.#stop = options.stop === true;
  }

  get format(): "buffer" {
    return "buffer";
  }

  readUint8(register: number): number {
    this.#register[0] = register;
    this.#io.writeRead(this.#register, this.#register, this.#stop);
    return this.#register[0];
  }

  readUint16(register: number, bigEndian = false): number {
    this.#register[0] = register;
    this.#io.writeRead(this.#register, this.#word, this.#stop);
    return bigEndian ? (this.#word[0] << 8) | this.#word[1] : (this.#word[1] << 8) | this.#word[0];
  }

  readBuffer(register: number, buffer: Buffer): void {
    this.#register[0] = register;
    this.#io.writeRead(this.#register, buffer, this.#stop);
  }

  writeUint8(register: number, value: number): void {
    this.#write[0] = register;
    this.#write[1] = value;
    this.#io.write(this.#write.subarray(0, 2));
  }

  writeUint16(register: number, value: number, bigEndian = false): void {
    this.#write[0] = register;
    this.#write[1] = bigEndian ? (value >> 8) & 0xff : value & 0xff;
    this.#write[2] = bigEndian ? value & 0xff : (value >> 8) & 0xff;
    this.#io.write(this.#write);
  }

  writeBuffer(register: number, buffer: Buffer): void {
    const bytes = buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    const data = new Uint8Array(1 + bytes.length);
    data[0] = register;
    data.set(bytes, 1);
    this.#io.write(data);
  }

  sendByte(command: number): void {
    this.#register[0] = command;
    this.#io.write(this.#register);
  }

  receiveByte(): number {
    this.#io.read(this.#register);
    return this.#register[0];
  }

  read(count: number | Buffer, stop = true): ArrayBuffer | undefined {
    return this.#io.read(count, stop);
  }

  write(buffer: Buffer, stop = true): void {
    this.#io.write(buffer, stop);
  }

  writeRead(buffer: Buffer, count: number | Buffer, stop = true): ArrayBuffer | undefined {
    return this.#io.writeRead(buffer, count, stop);
  }

  close(): void {
    this.#io.close();
  }
}

/** The SMBus class of a simulator whose I2C class is `I2C`. */
export function smbusOver(I2C: new (options: I2COptions) => SimulatedI2C): new (options: SMBusOptions) => SimulatedSMBus {
  return class SMBus extends SimulatedSMBus {
    constructor(options: SMBusOptions) {
      super(new I2C(options), options);
    }
  };
}
