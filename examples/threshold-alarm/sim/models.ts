// The air heats up by a degree a minute from 20 °C: the alarm at 28 °C goes off after eight minutes.
import { simulatorModels, TMP117_ADDRESS, Tmp117Model } from "xsedge/simulator";

export default simulatorModels({
  i2c: {
    [TMP117_ADDRESS]: (device) => {
      const start = device.now();
      return new Tmp117Model({ temperature: () => 20 + (device.now() - start) / 60_000 });
    },
  },
});
