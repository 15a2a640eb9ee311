// The shipped SIGKILL of the real gateway under load (simulator/scenarios/gateway-sigkill.yaml), in real time.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runShipped } from "../support/scenarios.js";

test("the real gateway killed with SIGKILL under load and restarted: every observation sampled reaches the cloud once", async () => {
  const report = await runShipped("gateway-sigkill");
  assert.equal([report.world.gateway.gatewayKills, report.world.gateway.gatewayStarts], [1, 2]);
  assert.ok(Number(report.world.network.errors) >= 6, "every device saw its connection go");
  assert.ok(report.totals.samples >= 6 * 50, `${report.totals.samples} samples`);
});

test.run();
