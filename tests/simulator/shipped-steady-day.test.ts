// The shipped steady fleet (simulator/scenarios/steady-fleet.yaml): a simulated day of ten devices, in virtual time.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runShipped } from "../support/scenarios.js";

test("a steady fleet through a simulated day: every observation sampled reaches the cloud exactly once", async () => {
  const report = await runShipped("steady-fleet");
  assert.is(report.totals.devices, 10);
  // Ten devices, one sample a minute, a day: 14,400 samples (the first ones a moment after boot).
  assert.ok(report.totals.samples >= 14_380 && report.totals.samples <= 14_400, `${report.totals.samples} samples`);
  assert.is(report.totals.missing, 0);
});

test.run();
