// The two parts on the simulated bus: register models of a TMP117 at 0x48 and a BME280 at 0x76.
import { BME280_ADDRESS, Bme280Model, simulatorModels, temperatureProfile, TMP117_ADDRESS, Tmp117Model } from "xsedge/simulator";

export default simulatorModels({
  i2c: {
    [TMP117_ADDRESS]: (device) => {
      const air = temperatureProfile({ meanCelsius: 18, seed: device.seed });
      return new Tmp117Model({ temperature: () => air(device.now()) });
    },
    // The board runs warmer than the air.
    [BME280_ADDRESS]: (device) => new Bme280Model({ temperature: () => 31.5, humidity: () => 40, pressure: () => 100_200, now: () => device.now() }),
  },
});
