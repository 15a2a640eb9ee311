/*
 * `embedded:provider/builtin` of the simulated board: the same shape as a
 * Moddable host provider, so drivers receive their I/O class and default pins
 * exactly as they do on an ESP32.
 */
import I2C from "./i2c.js";

const device = Object.freeze({
  io: Object.freeze({ I2C }),
  I2C: Object.freeze({ default: Object.freeze({ data: 21, clock: 22, hz: 400_000 }) }),
  pin: Object.freeze({ sda: 21, scl: 22 }),
});

export default device;
