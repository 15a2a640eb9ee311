/*
 * Two parts at two rates: xsedge's TMP117 driver for the air, every 2 s, and
 * its BME280 for humidity and pressure, every 10 s. Both measure
 * temperature; two series under one name could not be told apart, so the
 * BME280's is recorded as a quantity of the app's own, `board_temperature`
 * (°C, 0.01 resolution). Each sensor fills batches of its own.
 */
import Timer from "timer";
import { device } from "xsedge/device";
import TMP117 from "xsedge/sensors/tmp117";
import BME280 from "xsedge/sensors/bme280";

export default device((app) => {
  const board = app.quantity("board_temperature", "Cel", -2);
  app.sensor("air", TMP117, { periodMs: 2000 });
  app.sensor("board", BME280, {
    periodMs: app.setting("boardPeriodMs", { type: "integer", default: 10_000, min: 1000, max: 3_600_000 }),
    // Our BME280 waits out its conversion with the board's blocking delay.
    driver: { delay: (ms: number) => Timer.delay(ms) },
    quantities: { temperature: board },
  });
});
