/*
 * `embedded:provider/builtin` for the Moddable desktop simulator (mcsim on
 * lin, mac, win), which has no I2C: the app's TMP117 driver gets a simulated
 * bus with the same register model of the part that the Node simulator uses,
 * so the driver's real bytes are answered as a TMP117 would answer them.
 *
 * Runs on XS inside mcsim: only language built-ins here, no Node APIs. rollup
 * bundles it (and the model it reuses) into build/moddable/desktop/builtin.js.
 */
import { Tmp117Model, TMP117_ADDRESS } from "../../simulator/sensors/tmp117-model.js";
import { temperatureProfile } from "../../simulator/sensors/temperature-profile.js";
import { SimulatedI2C, type I2COptions, type I2cTransport } from "../../simulator/xs-host/simulated-i2c.js";
import { smbusOver } from "../../simulator/xs-host/simulated-smbus.js";

/** The Node simulator's default profile: 21 °C ± 3 °C over the day, so both simulators read alike. */
const temperature = temperatureProfile({ meanCelsius: 21, dailySwingCelsius: 3, seed: 1 });
const targets = new Map<number, Tmp117Model>([
  [TMP117_ADDRESS, new Tmp117Model({ temperature: () => temperature(Date.now()) })],
]);

const bus: I2cTransport = {
  // The model may keep what it is given; hand it a copy, as a wire would.
  write: (address, bytes) => targets.get(address)?.write(bytes.slice()) ?? false,
  read: (address, count) => targets.get(address)?.read(count),
};

/** An address with no part, or a refused byte, throws as a NACK does on a board. */
class I2C extends SimulatedI2C {
  constructor(options: I2COptions) {
    super(bus, options);
  }
}

/** Pin numbers mean nothing on the desktop; they are the ESP32 defaults so configuration reads the same. */
const device = Object.freeze({
  io: Object.freeze({ I2C, SMBus: smbusOver(I2C) }),
  I2C: Object.freeze({ default: Object.freeze({ data: 21, clock: 22, hz: 400_000 }) }),
});

export default device;
