/*
 * A freezer alarm with hysteresis: raised when a freezer warms above
 * -15 °C, cleared only once it is back below -18 °C, so a temperature
 * hovering at -15 °C (a door opened, the defrost cycle) raises one alarm,
 * not one per sample. Only changes are sent, each once per sink.
 */
import { defineRule, hysteresis, readingOf } from "xsedge/rules";

const RAISE_ABOVE = -15;
const CLEAR_BELOW = -18;

export default defineRule({
  name: "freezer-alarm",
  description: "critical alert above -15 °C, cleared below -18 °C",
  select: { sensors: "freezer-*", quantities: ["temperature"] },
  initialState: () => ({}),
  onObservation(observation, ctx) {
    const temperature = readingOf(observation, "temperature");
    if (temperature === undefined) return;
    const key = `warm:${observation.sensorId}`;
    const warm = hysteresis(ctx.isAlerting(key), temperature, { raiseAbove: RAISE_ABOVE, clearBelow: CLEAR_BELOW });
    ctx.alert(key, warm, {
      sensorId: observation.sensorId,
      severity: warm ? "critical" : "info",
      message: warm ? `${observation.sensorId} is at ${temperature} °C (above ${RAISE_ABOVE} °C)` : `${observation.sensorId} is back at ${temperature} °C`,
      data: { temperature },
    });
  },
  selfTest(test) {
    const at = (value: number) => test.observe({ sensorId: "freezer-1", readings: [{ quantity: "temperature", value }] }).alerts;
    test.check(at(-20).length === 0, "cold: nothing");
    test.check(at(-14)[0]?.active === true, "raised above -15 °C");
    test.check(at(-13).length === 0 && at(-16).length === 0, "no repeat while warm, none at -16 °C (inside the hysteresis)");
    test.check(at(-18.5)[0]?.active === false, "cleared below -18 °C");
  },
});
