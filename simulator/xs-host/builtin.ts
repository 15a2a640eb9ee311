/*
 * `embedded:provider/builtin` of the simulated board: the same shape as a
 * Moddable host provider, so drivers receive their I/O class and default pins
 * exactly as they do on an ESP32 (I2C, and SMBus for the SDK's drivers that
 * read registers through it).
 */
import I2C from "./i2c.js";
import SMBus from "./smbus.js";

const device = Object.freeze({
  io: Object.freeze({ I2C, SMBus }),
  I2C: Object.freeze({ default: Object.freeze({ data: 21, clock: 22, hz: 400_000 }) }),
  pin: Object.freeze({ sda: 21, scl: 22 }),
});

export default device;
