import { test } from "uvu";
import * as assert from "uvu/assert";
import { SEQUENCE_LEASE, SequenceLease } from "../../modules/device/sequence-lease.js";
import { readSettings, SettingsError } from "../../modules/device/settings.js";

function memoryPreferences() {
  const values = new Map<string, number>();
  let writes = 0;
  return {
    get: (d: string, k: string) => values.get(`${d}/${k}`),
    set: (d: string, k: string, v: number) => { values.set(`${d}/${k}`, v); writes++; },
    get writes() { return writes; },
  };
}

test("the boot counter increments on every boot", () => {
  const prefs = memoryPreferences();
  assert.is(new SequenceLease(prefs, "x").boot, 1);
  assert.is(new SequenceLease(prefs, "x").boot, 2);
});

test("sequence numbers never repeat across reboots, with one write per lease", () => {
  const prefs = memoryPreferences();
  const seen = new Set<number>();
  let last = 0;
  for (let boot = 0; boot < 3; boot++) {
    const lease = new SequenceLease(prefs, "x");
    for (let i = 0; i < SEQUENCE_LEASE + 5; i++) {
      const seq = lease.next();
      assert.ok(seq > last, `seq ${seq} after ${last}`);
      assert.not.ok(seen.has(seq));
      seen.add(seq);
      last = seq;
    }
  }
  // Per boot: the boot counter, then two leases.
  assert.is(prefs.writes, 3 * 3);
});

test("settings: manifest defaults, provisioned preferences on top, each validated naming key and source", () => {
  const config = { sensorId: "s-1", gatewayAddress: "127.0.0.1" };
  const settings = readSettings(config);
  assert.equal(
    { port: settings.gatewayPort, period: settings.samplePeriodMs, policy: settings.logPolicy, secret: settings.secret, age: settings.batchMaxAgeMs },
    { port: 1883, period: 1000, policy: "drop-oldest", secret: "", age: 10_000 },
  );
  assert.is(readSettings({ ...config, gatewayPort: "1884" }).gatewayPort, 1884);
  const prefs = new Map<string, unknown>([["xsedge-config/gatewayPort", 8883], ["xsedge-config/sensorId", "field-7"], ["xsedge-config/keepAliveSeconds", 9]]);
  const reader = { get: (domain: string, key: string) => prefs.get(`${domain}/${key}`) };
  const provisioned = readSettings(config, reader);
  assert.is(provisioned.gatewayPort, 8883);
  assert.is(provisioned.sensorId, "field-7");
  assert.is(provisioned.keepAliveSeconds, 30, "only the provisioned keys come from preferences");
});

test("settings errors name the key and where the bad value came from", () => {
  const good = { sensorId: "s-1", gatewayAddress: "127.0.0.1" };
  const bad: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ gatewayAddress: "127.0.0.1" }, "sensorId", /config sensorId: is required/],
    [{ ...good, sensorId: "has space" }, "sensorId", /config sensorId: must be 1 to 64/],
    [{ ...good, gatewayAddress: "gateway.local" }, "gatewayAddress", /IPv4/],
    [{ ...good, gatewayAddress: "256.1.1.1" }, "gatewayAddress", /IPv4/],
    [{ ...good, gatewayPort: 70000 }, "gatewayPort", /from 1 to 65535, got 70000/],
    [{ ...good, samplePeriodMs: 1 }, "samplePeriodMs", /from 10 to/],
    [{ ...good, samplePeriodMs: "soon" }, "samplePeriodMs", /got "soon"/],
    [{ ...good, secret: "short" }, "secret", /8 to 128 characters/],
    [{ ...good, logPolicy: "keep" }, "logPolicy", /drop-oldest, refuse-newest/],
    [{ ...good, traceSamples: "yes" }, "traceSamples", /true or false/],
    [{ ...good, batchMaxAgeMs: -1 }, "batchMaxAgeMs", /from 0 to/],
  ];
  for (const [config, key, message] of bad) {
    try {
      readSettings(config);
      assert.unreachable(`accepted bad ${key}`);
    } catch (e) {
      assert.instance(e, SettingsError);
      assert.is((e as SettingsError).key, key);
      assert.match((e as Error).message, message);
    }
  }
  const prefs = { get: (_d: string, key: string) => (key === "logPolicy" ? "sometimes" : undefined) };
  assert.throws(() => readSettings(good, prefs), /preference xsedge-config\/logPolicy: must be one of/);
});

test.run();
