// An ECMA-419 I2C class over the simulator's I2cBus, so drivers can be tested directly under Node.
import type { I2cBus } from "../../simulator/engine/i2c-bus.js";
import type { SensorIO, SensorIOOptions } from "../../modules/sensors/sensor-io.js";

export function i2cOn(bus: I2cBus): new (options: SensorIOOptions) => SensorIO {
  return class BusI2C implements SensorIO {
    readonly #address: number;
    constructor(options: SensorIOOptions) {
      this.#address = options.address;
    }
    write(buffer: ArrayBuffer | ArrayBufferView, stop = true): void {
      const bytes = buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
      if (!bus.write(this.#address, bytes, stop)) throw new Error(`NACK at 0x${this.#address.toString(16)}`);
    }
    read(buffer: ArrayBuffer | ArrayBufferView, stop = true): void {
      const into = buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
      const data = bus.read(this.#address, into.byteLength, stop);
      if (!data) throw new Error(`NACK at 0x${this.#address.toString(16)}`);
      into.set(data);
    }
    close(): void {}
  };
}
