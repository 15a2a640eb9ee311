/*
 * The built-in app: one of our three parts (config `sensor`: tmp117, sht3x
 * or bme280, at `sensorAddress` or the part's own address), sampled every
 * samplePeriodMs and sent to the gateway. It is written against the public
 * device API alone, like any app of a firmware developer's: the runtime
 * behind `device()` does the rest.
 */
import Timer from "timer";
import { device } from "../device/index.js";
import TMP117 from "../sensors/tmp117.js";
import SHT3x from "../sensors/sht3x.js";
import BME280 from "../sensors/bme280.js";
import { SENSOR_PARTS, type SensorPart } from "./parts.js";

const PARTS: Record<SensorPart, typeof TMP117 | typeof SHT3x | typeof BME280> = { tmp117: TMP117, sht3x: SHT3x, bme280: BME280 };

export default device((app) => {
  // Not settable from afar: another part needs another board.
  const part = app.setting("sensor", { type: "text", default: "tmp117", oneOf: SENSOR_PARTS, remote: false });
  const address = app.setting("sensorAddress", { type: "integer", default: 0, min: 0, max: 0x77, remote: false });
  app.sensor(part.value, PARTS[part.value as SensorPart], {
    ...(address.value === 0 ? {} : { address: address.value }),
    // Our SHT3x and BME280 wait out their conversions with the board's blocking delay.
    driver: { delay: (ms: number) => Timer.delay(ms) },
  });
});
