/*
 * {{name}}: a device app on xsedge. One sensor, the Moddable SDK's TMP117
 * driver, sampled every samplePeriodMs; and one event: when the temperature
 * crosses `alarmCelsius` (a setting the gateway may change), an `alarm`
 * observation (1 above, 0 below) goes out at once. The runtime does the rest:
 * batching, the flash log, the uplink, clock anchors, settings, commands.
 */
import { device } from "xsedge/device";
import TMP117 from "embedded:sensor/Temperature/TMP117";

export default device((app) => {
  const limit = app.setting("alarmCelsius", { type: "number", default: 30, min: -40, max: 125 });
  const alarm = app.quantity("alarm", "/", 0);
  let above: boolean | undefined;
  app.sensor("air", TMP117, {
    io: "SMBus",
    onSample(sample) {
      if (sample.temperature === undefined) return;
      const now = sample.temperature > limit.value;
      if (now === above) return;
      above = now;
      app.record({ [alarm.name]: now }, { now: true });
    },
  });
});
