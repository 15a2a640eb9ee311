import { test } from "uvu";
import * as assert from "uvu/assert";
import { SEQUENCE_LEASE, SequenceLease } from "../modules/app/sequence-lease.js";
import { RecordQueue } from "../modules/app/record-queue.js";
import { readSettings, SettingsError } from "../modules/app/settings.js";

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

test("the record queue is bounded and counts what it drops, oldest first", () => {
  const queue = new RecordQueue(2);
  queue.push(Uint8Array.of(1));
  queue.push(Uint8Array.of(2));
  queue.push(Uint8Array.of(3));
  assert.is(queue.dropped, 1);
  assert.is(queue.size, 2);
  assert.equal([...queue.shift()!], [2]);
  assert.equal([...queue.shift()!], [3]);
  assert.is(queue.shift(), undefined);
  assert.throws(() => new RecordQueue(0), /invalid queue capacity/);
});

test("settings are validated at boot with errors that name the key", () => {
  const good = { sensorId: "s-1", gatewayAddress: "127.0.0.1" };
  const settings = readSettings(good);
  assert.is(settings.gatewayPort, 1883);
  assert.is(settings.samplePeriodMs, 1000);
  assert.is(readSettings({ ...good, gatewayPort: "1884" }).gatewayPort, 1884);
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ ...good, sensorId: "has space" }, "sensorId"],
    [{ ...good, gatewayAddress: "gateway.local" }, "gatewayAddress"],
    [{ ...good, gatewayAddress: "256.1.1.1" }, "gatewayAddress"],
    [{ ...good, gatewayPort: 70000 }, "gatewayPort"],
    [{ ...good, samplePeriodMs: 1 }, "samplePeriodMs"],
    [{ ...good, samplePeriodMs: "soon" }, "samplePeriodMs"],
    [{ ...good, mqttPassword: 5 }, "mqttPassword"],
  ];
  for (const [config, key] of bad) {
    try {
      readSettings(config);
      assert.unreachable(`accepted bad ${key}`);
    } catch (e) {
      assert.instance(e, SettingsError);
      assert.is((e as SettingsError).key, key);
    }
  }
});

test.run();
