/*
 * The shipped scenarios of parts and flash failing (simulator/scenarios),
 * in virtual time: sensor faults, and power cuts inside flash operations.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { expectation, runShipped } from "../support/scenarios.js";

test("sensor faults: bad CRCs, NACKs, a stuck value and a part off the bus are left out, never invented, and nothing throws", async () => {
  const report = await runShipped("sensor-faults");
  assert.match(expectation(report, "readings {\"devices\":\"stuck-1\""), /\d+ temperature readings .*, 1 distinct value/);
  assert.match(expectation(report, "readings {\"devices\":\"gone-1\""), /^0 observations with humidity/);
  const byId = new Map(report.devices.map((d) => [d.sensorId, d]));
  // A part off the bus for two of eight minutes, and NACKs after 10 s, sample less than a healthy part.
  assert.ok(byId.get("gone-1")!.samples < byId.get("trace-1")!.samples);
  assert.ok(byId.get("nack-1")!.samples < byId.get("trace-1")!.samples);
});

test("power cuts in flash writes and erases: every device reboots and recovers its log, losing at most its open batch", async () => {
  const report = await runShipped("power-cuts");
  assert.is(report.totals.powerCuts, 5);
  assert.is(report.totals.boots, 4 + 5, "each cut is followed by a boot");
  assert.match(expectation(report, "lossAtMostOpenBatch"), /^5 power cuts lost \d+ observations, all from the batch each cut found open in RAM/);
});

test.run();
