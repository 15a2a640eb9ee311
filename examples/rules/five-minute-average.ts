/*
 * Five-minute averages relayed instead of raw samples: every selected
 * sample stays at the gateway (kept local: the dashboard and the local API
 * still show it), and each five-minute window's mean, minimum and maximum
 * temperature go to the cloud as one observation of "<sensor>.avg5m",
 * timed at the window's end. 300 samples become one.
 *
 * A window closes when the first sample of a later window arrives, or,
 * if the sensor goes quiet, by a timer a minute after its end. Windows
 * follow the samples' own time (the device's clock, else the receipt), so
 * a device that sends a backlog after an outage still gets its windows.
 */
import { defineRule, readingOf, type RuleContext } from "xsedge/rules";

const WINDOW_MS = 5 * 60_000;
/** A late sample (a device flushing its flash log) may still arrive this long after a window's end. */
const GRACE_MS = 60_000;

interface Window {
  start: number;
  count: number;
  sum: number;
  min: number;
  max: number;
}

interface State {
  windows: Record<string, Window>;
}

function close(sensorId: string, ctx: RuleContext<State>): void {
  const window = ctx.state.windows[sensorId];
  if (window === undefined) return;
  delete ctx.state.windows[sensorId];
  ctx.clearTimer(sensorId);
  ctx.derive({
    sensorId: `${sensorId}.avg5m`,
    // The record carries one value per quantity: the mean as the temperature, the spread in the trace.
    readings: [{ quantity: "temperature", value: window.sum / window.count }],
    time: window.start + WINDOW_MS,
  });
  ctx.trace(`${sensorId} window ${new Date(window.start).toISOString()}: ${window.count} samples, min ${window.min}, max ${window.max}`);
}

export default defineRule<State>({
  name: "five-minute-average",
  description: "five-minute mean temperatures relayed instead of every sample",
  select: { sensors: "greenhouse-*", quantities: ["temperature"] },
  relay: "decide",
  initialState: () => ({ windows: {} }),
  onObservation(observation, ctx) {
    const value = readingOf(observation, "temperature");
    if (value === undefined) return;
    ctx.keepLocal();
    const time = observation.time ?? observation.receivedAt;
    const start = time - (time % WINDOW_MS);
    const id = observation.sensorId;
    const open = ctx.state.windows[id];
    if (open !== undefined && open.start !== start) close(id, ctx);
    const window = (ctx.state.windows[id] ??= { start, count: 0, sum: 0, min: value, max: value });
    window.count++;
    window.sum += value;
    window.min = Math.min(window.min, value);
    window.max = Math.max(window.max, value);
    // Timers run on the gateway's clock (ctx.now), windows on the sample's: wait out what is left of the window, and the grace.
    ctx.setTimer(id, ctx.now + (start + WINDOW_MS - time) + GRACE_MS);
  },
  onTimer(sensorId, ctx) {
    close(sensorId, ctx);
  },
  selfTest(test) {
    const t0 = 1_700_000_100_000 - (1_700_000_100_000 % WINDOW_MS);
    for (let i = 0; i < 5; i++) {
      const out = test.observe({ sensorId: "greenhouse-1", readings: [{ quantity: "temperature", value: 20 + i }], time: t0 + i * 1000, receivedAt: t0 + i * 1000 });
      test.check(out.keptLocal && out.derived.length === 0, "raw samples stay at the gateway");
    }
    const next = test.observe({ sensorId: "greenhouse-1", readings: [{ quantity: "temperature", value: 30 }], time: t0 + WINDOW_MS, receivedAt: t0 + WINDOW_MS });
    const average = next.derived[0];
    test.check(average?.sensorId === "greenhouse-1.avg5m" && average.readings[0].value === 22, `the first window's mean is 22 °C, got ${JSON.stringify(average)}`);
    test.check(average?.time === t0 + WINDOW_MS, "timed at the window's end");
    const fired = test.advanceTo(t0 + 2 * WINDOW_MS + GRACE_MS);
    test.check(fired.length === 1 && fired[0].derived[0]?.readings[0].value === 30, "a quiet sensor's window closes by its timer");
  },
});
