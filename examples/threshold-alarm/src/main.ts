/*
 * A threshold alarm on a computed quantity. The TMP117 is sampled every
 * second but its raw samples are not logged: the app averages ten of them
 * and records the average as `temperature_avg` (a quantity of its own).
 * When the average crosses `limitCelsius` (a setting the gateway may
 * change), an `alarm` observation (1 above, 0 back below) goes out at once.
 * The `silence` command keeps the alarm quiet for a given number of minutes.
 */
import { device } from "xsedge/device";
import TMP117 from "xsedge/sensors/tmp117";

const WINDOW = 10;

export default device((app) => {
  const average = app.quantity("temperature_avg", "Cel", -2);
  const alarm = app.quantity("alarm", "/", 0);
  const limit = app.setting("limitCelsius", { type: "number", default: 28, min: -40, max: 125 });
  let sum = 0;
  let count = 0;
  let above = false;
  let silentUntil = 0;

  app.command("silence", (minutes) => {
    if (typeof minutes !== "number" || minutes < 1 || minutes > 1440) throw new RangeError("give the minutes, 1 to 1440");
    silentUntil = Date.now() + minutes * 60_000;
    return `silent for ${minutes} min`;
  });

  app.sensor("air", TMP117, {
    periodMs: 1000,
    record: false,
    onSample(sample) {
      if (sample.temperature === undefined) return;
      sum += sample.temperature;
      if (++count < WINDOW) return;
      const mean = sum / count;
      sum = 0;
      count = 0;
      app.record({ [average.name]: mean });
      const now = mean > limit.value;
      if (now !== above && Date.now() >= silentUntil) {
        above = now;
        app.record({ [alarm.name]: now, [average.name]: mean }, { now: true });
      }
    },
  });
});
