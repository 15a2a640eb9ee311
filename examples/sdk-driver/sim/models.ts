/*
 * The simulated SHT3x: its registers (our Sensirion command model on the I2C
 * bus, for the SDK's real driver when $MODDABLE points at an SDK checkout),
 * and its values alone (standing in for the driver otherwise).
 */
import { simulatorModels, Sht3xModel, temperatureProfile, type ModelContext } from "xsedge/simulator";

function air(device: ModelContext) {
  const celsius = temperatureProfile({ meanCelsius: 20 + device.seed, seed: device.seed });
  const temperature = () => celsius(device.now());
  return { temperature, humidity: () => 60 - temperature() };
}

export default simulatorModels({
  i2c: { 0x44: (device) => new Sht3xModel({ ...air(device), now: () => device.now() }) },
  drivers: {
    "embedded:sensor/Humidity-Temperature/SHT3x": (device) => {
      const { temperature, humidity } = air(device);
      return { sample: () => ({ thermometer: { temperature: temperature() }, hygrometer: { humidity: humidity() } }) };
    },
  },
});
