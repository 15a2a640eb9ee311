// The shipped one-hour cloud outage (simulator/scenarios/cloud-outage.yaml), in virtual time.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { expectation, runShipped } from "../support/scenarios.js";

test("a one-hour cloud outage: the gateway keeps everything, backs off, and its backlog drains within minutes of the cloud's return", async () => {
  const report = await runShipped("cloud-outage");
  assert.ok(Number(report.world.cloud.refusedBatches) > 0, "the relay tried through the outage");
  assert.is(report.world.gateway.unrelayed, 0);
  assert.match(expectation(report, "backlogDrains"), /reached the cloud .* after 1h10m/);
});

test.run();
