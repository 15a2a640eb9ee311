/*
 * ECMA-419 `embedded:io/i2c` for the simulator: every transfer crosses to the
 * host, where a register-level model of the part answers. A missing part or a
 * refused byte is a NACK, which throws as it does on a board.
 */
import { Request, Status } from "./protocol.js";
import { frame, request } from "./bridge.js";
import { SimulatedI2C, type I2COptions, type I2cTransport } from "./simulated-i2c.js";

const bridged: I2cTransport = {
  write(address, bytes, stop) {
    return request(frame(Request.I2C_WRITE).u8(address).u8(stop ? 1 : 0).tail(bytes), [Status.OK, Status.NACK]).status === Status.OK;
  },
  read(address, count, stop) {
    const { status, reply } = request(frame(Request.I2C_READ).u8(address).u8(stop ? 1 : 0).u16(count), [Status.OK, Status.NACK]);
    return status === Status.OK ? reply.tail() : undefined;
  },
};

export default class I2C extends SimulatedI2C {
  constructor(options: I2COptions) {
    super(bridged, options);
  }
}
