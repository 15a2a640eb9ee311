import { test } from "uvu";
import * as assert from "uvu/assert";
import { CLOCK_SYNCED_AFTER_MS, type ClockAnchor } from "../../../modules/observation/record.js";
import { anchorEstimate, chooseAnchor, MAX_DEVICE_CLOCK_AHEAD_MS, withTime, type BootAnchor } from "../../../hosts/gateway/store/clock-map.js";
import { observation } from "../../support/test-helpers.js";
import { WALL } from "../../support/gateway-records.js";

const record = (wallMs: number | null, uptimeMs = 5_000): ClockAnchor => ({ sensorId: "s-1", boot: 2, uptimeMs, wallMs });

function estimate(wallMs: number | null, receivedAt: number, uptimeMs = 5_000): BootAnchor {
  const result = anchorEstimate(record(wallMs, uptimeMs), receivedAt);
  if (!result.ok) throw new Error(`expected an anchor, got ${result.detail}`);
  return result.anchor;
}

test("a device anchor's offset is its wall clock minus its uptime", () => {
  assert.equal(estimate(WALL, WALL + 60_000), {
    sensorId: "s-1", boot: 2, source: "device", offsetMs: WALL - 5_000, uptimeMs: 5_000, wallMs: WALL, receivedAt: WALL + 60_000,
  });
});

test("a null anchor takes the gateway's receive time as the wall clock", () => {
  const anchor = estimate(null, WALL + 123);
  assert.is(anchor.source, "gateway");
  assert.is(anchor.wallMs, WALL + 123);
  assert.is(anchor.offsetMs, WALL + 123 - 5_000);
});

const untrusted: Array<[string, number | null, number, number, string, string]> = [
  ["a null anchor while the gateway's clock is unset", null, 1_000, 5_000, "clock-unset", "wallMs"],
  ["a device clock from before CLOCK_SYNCED_AFTER_MS", CLOCK_SYNCED_AFTER_MS - 1, WALL, 5_000, "malformed", "wallMs"],
  ["a device clock more than a day ahead of the gateway's", WALL + MAX_DEVICE_CLOCK_AHEAD_MS + 1, WALL, 5_000, "malformed", "wallMs"],
  ["an uptime longer than the epoch", WALL, WALL, WALL + 1, "malformed", "uptimeMs"],
];

for (const [what, wallMs, receivedAt, uptimeMs, reason, field] of untrusted) {
  test(`${what} gives no anchor (${reason}, ${field})`, () => {
    const result = anchorEstimate(record(wallMs, uptimeMs), receivedAt);
    assert.is(result.ok, false);
    if (result.ok) return;
    assert.is(result.reason, reason);
    assert.is(result.field, field);
    assert.ok(result.detail.length > 10);
  });
}

test("a device clock ahead of an unset gateway clock is trusted: the gateway cannot judge it", () => {
  assert.is(estimate(WALL, 1_000).source, "device");
});

test("which anchor a boot keeps", () => {
  const device = estimate(WALL, WALL);
  const gateway = estimate(null, WALL + 40);
  const laterGateway = estimate(null, WALL + 90);
  const earlierGateway = estimate(null, WALL + 10);
  assert.is(chooseAnchor(undefined, gateway), "adopt");
  assert.is(chooseAnchor(undefined, device), "adopt");
  assert.is(chooseAnchor(gateway, device), "replace", "the device's own clock beats the receive time");
  assert.is(chooseAnchor(device, gateway), "keep");
  assert.is(chooseAnchor(gateway, laterGateway), "keep", "a retry or a delayed anchor has a larger offset");
  assert.is(chooseAnchor(gateway, { ...gateway }), "keep", "a tie keeps the first");
  assert.is(chooseAnchor(gateway, earlierGateway), "replace", "the least delayed receipt wins");
  assert.is(chooseAnchor(device, { ...device, offsetMs: device.offsetMs + 1_000 }), "keep", "one offset per boot once the device said");
});

test("an observation's time is its boot's offset plus its uptime, exactly; without an anchor it has none", () => {
  const anchor = estimate(WALL, WALL);
  const obs = { ...observation("s-1", 9), boot: 2, uptimeMs: 65_432 };
  assert.equal(withTime(obs, anchor), { ...obs, time: WALL - 5_000 + 65_432, timeSource: "device" });
  assert.equal(withTime({ ...obs, time: 1, timeSource: "gateway" }, undefined), obs, "no time is kept or invented without an anchor");
});

test.run();
