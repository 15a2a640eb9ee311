/*
 * The simulated parts of {{name}}'s devices (xsedge sim --app / up --app):
 * the air they measure, and the TMP117 that measures it, twice: as the part
 * (its registers on the I2C bus at 0x48, for the Moddable SDK's real driver
 * when $MODDABLE points at an SDK checkout) and as the values its driver
 * would return (standing in for the driver otherwise).
 */
import { simulatorModels, temperatureProfile, Tmp117Model, type ModelContext } from "xsedge/simulator";

/** A day's swing of 8 °C around 26 °C: the afternoon crosses the 30 °C alarm. */
const air = (device: ModelContext) => {
  const celsius = temperatureProfile({ meanCelsius: 25 + device.seed, dailySwingCelsius: 8, seed: device.seed });
  return () => celsius(device.now());
};

export default simulatorModels({
  i2c: { 0x48: (device) => new Tmp117Model({ temperature: air(device) }) },
  drivers: {
    "embedded:sensor/Temperature/TMP117": (device) => {
      const temperature = air(device);
      return { sample: () => ({ temperature: temperature() }) };
    },
  },
});
