// The OPT3001 on the simulated bus, under a sky that brightens over the morning.
import { simulatorModels } from "xsedge/simulator";
import { OPT3001_ADDRESS, Opt3001Model } from "./opt3001-model.js";

export default simulatorModels({
  i2c: {
    [OPT3001_ADDRESS]: (device) => new Opt3001Model({ lux: () => 300 + 50 * device.seed + ((device.now() / 1000) % 600), now: () => device.now() }),
  },
});
