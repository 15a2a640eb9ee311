// The shipped flooding device (simulator/scenarios/device-flood.yaml) against the real gateway's rate limit, in real time.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { expectation, runShipped } from "../support/scenarios.js";

test("one device flooding: the gateway's rate limit holds it back, every other device's observations get through", async () => {
  const report = await runShipped("device-flood");
  assert.match(expectation(report, "rateLimited"), /delayed or refused \d+ publishes/);
  const flood = report.devices.find((d) => d.sensorId === "flood-1")!;
  assert.ok(flood.samples > flood.atCloud, "the flooder is behind: its records wait in its flash");
});

test.run();
