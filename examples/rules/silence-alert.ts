/*
 * A silence alert: raised when a sensor has sent nothing for ten minutes
 * (its battery, its radio, its gateway link), cleared by its next
 * observation. Each observation moves the sensor's timer; the timer firing
 * is the silence.
 */
import { defineRule } from "xsedge/rules";

const SILENCE_MS = 10 * 60_000;

export default defineRule({
  name: "silence-alert",
  description: "an alert when a sensor sends nothing for 10 minutes",
  select: { sensors: "*" },
  initialState: () => ({}),
  onObservation(observation, ctx) {
    const id = observation.sensorId;
    ctx.alert(`silent:${id}`, false, { sensorId: id, message: `${id} is sending again` });
    ctx.setTimer(id, ctx.now + SILENCE_MS);
  },
  onTimer(sensorId, ctx) {
    ctx.alert(`silent:${sensorId}`, true, {
      sensorId,
      severity: "warning",
      message: `${sensorId} has sent nothing for ${SILENCE_MS / 60_000} minutes`,
      data: { since: ctx.now - SILENCE_MS },
    });
  },
  selfTest(test) {
    const first = test.observe({ sensorId: "s-1", readings: [{ quantity: "temperature", value: 20 }], receivedAt: 1_700_000_000_000 });
    test.check(first.alerts.length === 0, "a sensor heard from is not silent (nor cleared: it never was silent)");
    test.check(test.advanceTo(1_700_000_000_000 + SILENCE_MS - 1).length === 0, "not yet");
    const silent = test.advanceTo(1_700_000_000_000 + SILENCE_MS);
    test.check(silent[0]?.alerts[0]?.active === true && silent[0].alerts[0].key === "silent:s-1", "silent after 10 minutes");
    const back = test.observe({ sensorId: "s-1", readings: [{ quantity: "temperature", value: 20 }] });
    test.check(back.alerts[0]?.active === false, "cleared when it sends again");
  },
});
