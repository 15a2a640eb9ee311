/*
 * The fleet engine: many devices per xsnap-worker, each in its own
 * Compartment, on the real XS engine, against a real MQTT server on
 * loopback (mqtt-packet, not our code). What is isolated per device is
 * checked from inside XS by small app bundles of the same form as
 * build/moddable/main.js.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { decodeUplinkRecord } from "../../modules/observation/record-decoder.js";
import type { Observation } from "../../modules/observation/record.js";
import { FleetEngine, workersFor } from "../../simulator/fleet/fleet-engine.js";
import { RealNetwork, RealTimeDriver } from "../../simulator/fleet/realtime-driver.js";
import { startPacketBroker, type PacketBroker } from "../support/packet-broker.js";
import { tempDir, waitFor } from "../support/test-helpers.js";
import { Tmp117Model } from "../../simulator/sensors/tmp117-model.js";
import { appDevice, startRecordedFleet, writeBundle } from "../support/fleet.js";

const observations = (broker: PacketBroker, sensorId?: string): Observation[] => broker.publishes.flatMap((p) => {
  const record = decodeUplinkRecord(p.payload);
  const list = record.kind === "observation" ? [record.observation] : record.kind === "batch" ? record.observations : [];
  return list.filter((o) => sensorId === undefined || o.sensorId === sensorId);
});

async function rejects(run: () => Promise<unknown>, expected: RegExp): Promise<void> {
  try {
    await run();
  } catch (error) {
    assert.match((error as Error).message, expected);
    return;
  }
  assert.unreachable(`expected a rejection matching ${expected}`);
}

const PROBE_APP = `
import Timer from "timer";
import config from "mc/config";
import Preference from "preference";
let instances = 0;
export default function main() {
  instances++;
  globalThis.touched = (globalThis.touched ?? 0) + 1;
  let frozen = "no";
  try { Array.prototype.sneaky = 1; } catch { frozen = "yes"; }
  const boots = (Preference.get("probe", "boots") ?? 0) + 1;
  Preference.set("probe", "boots", boots);
  trace("probe " + config.sensorId + " label=" + config.label + " instances=" + instances + " touched=" + globalThis.touched
    + " frozen=" + frozen + " sneaky=" + String([].sneaky) + " boots=" + boots + " random=" + Math.random() + "\\n");
  Timer.set(() => trace("later " + config.sensorId + "\\n"), 20);
}
`;

test("many devices share one worker, each running the built-in app with its own config, flash and socket", async () => {
  const broker = await startPacketBroker();
  const ids = ["f-1", "f-2", "f-3", "f-4", "f-5", "f-6"];
  const fleet = await startRecordedFleet(ids.map((id, i) => appDevice(id, broker.port, {}, [{ part: ["tmp117", "sht3x", "bme280"][i % 3] }])), { workers: 1 });
  try {
    assert.is(fleet.engine.workers.length, 1);
    for (const device of fleet.engine.devices) fleet.engine.powerOn(device);
    await fleet.engine.booted();
    await waitFor("three observations from every device", () => ids.every((id) => observations(broker, id).length >= 3), 15_000);
    assert.equal(new Set(broker.connects.map((c) => c.clientId)), new Set(ids), "one MQTT connection per device");
    for (const id of ids) {
      const seqs = observations(broker, id).map((o) => o.seq);
      assert.equal(seqs.slice(0, 3), [1, 2, 3], `${id}: its own sequence`);
      assert.ok(broker.publishes.filter((p) => p.topic === `xsedge/v1/${id}/up`).length >= 3);
      assert.ok(fleet.device(id).flash.changes > 0, `${id} wrote its own flash`);
    }
    const [bme] = observations(broker, "f-3");
    assert.equal(bme.readings.map((r) => r.quantity), ["temperature", "humidity", "pressure"]);
    assert.equal([...fleet.uncaught.keys()], []);
  } finally {
    await fleet.engine.close();
    await broker.close();
  }
});

test("each device has its own globals and module instances; the built-ins are frozen; Math.random is seeded per device", async () => {
  const dir = tempDir("fleet-apps");
  const app = writeBundle(dir.path, "probe.js", PROBE_APP);
  const fleet = await startRecordedFleet(["p-1", "p-2", "p-3"].map((id, i) => ({ sensorId: id, app, seed: i === 2 ? 1 : i + 1, parts: [], config: { sensorId: id, label: "x" } })), { workers: 1 });
  try {
    for (const device of fleet.engine.devices) fleet.engine.powerOn(device);
    await waitFor("every device's timer", () => ["p-1", "p-2", "p-3"].every((id) => fleet.tracesOf(id).some((l) => l.startsWith("later"))));
    const line = (id: string) => fleet.tracesOf(id).find((l) => l.startsWith("probe"))!;
    for (const id of ["p-1", "p-2", "p-3"]) {
      assert.match(line(id), new RegExp(`^probe ${id} label=x instances=1 touched=1 frozen=yes sneaky=undefined boots=1 `), line(id));
    }
    const random = (id: string) => /random=([\d.]+)/.exec(line(id))![1];
    assert.is.not(random("p-1"), random("p-2"), "different seeds, different draws");
    assert.is(random("p-3"), random("p-1"), "the same seed, the same draws");
    // A reboot is a fresh compartment; the preferences (the board's NVS) are kept.
    const device = fleet.device("p-1");
    fleet.engine.powerOff(device);
    fleet.engine.powerOn(device);
    await waitFor("the second boot", () => fleet.tracesOf("p-1").filter((l) => l.startsWith("probe")).length === 2);
    assert.match(fleet.tracesOf("p-1").filter((l) => l.startsWith("probe"))[1], /instances=1 touched=1 .* boots=2 /);
    assert.is(device.preferences.get("probe", "boots"), 2);
  } finally {
    await fleet.engine.close();
    dir.remove();
  }
});

test("devices of one fleet run different app bundles side by side", async () => {
  const broker = await startPacketBroker();
  const dir = tempDir("fleet-apps");
  const other = writeBundle(dir.path, "other.js", PROBE_APP.replace('"probe "', '"other "'));
  const fleet = await startRecordedFleet([appDevice("b-1", broker.port), { sensorId: "b-2", app: other, parts: [], config: { sensorId: "b-2" } }], { workers: 1 });
  try {
    for (const device of fleet.engine.devices) fleet.engine.powerOn(device);
    await waitFor("the built-in app publishing and the other app tracing", () => observations(broker, "b-1").length >= 2 && fleet.tracesOf("b-2").some((l) => l.startsWith("other b-2")));
    assert.ok(fleet.tracesOf("b-1").some((l) => l.startsWith("xsedge device b-1 boot 1")));
    assert.not.ok(fleet.tracesOf("b-2").some((l) => l.startsWith("xsedge device")));
  } finally {
    await fleet.engine.close();
    await broker.close();
    dir.remove();
  }
});

test("an app bundle with no default export, or one XS cannot compile, is refused naming its file", async () => {
  const dir = tempDir("fleet-apps");
  const startWith = (app: string) => FleetEngine.start({
    devices: [{ sensorId: "x-1", app, parts: [], config: { sensorId: "x-1" } }],
    driver: new RealTimeDriver(),
    network: new RealNetwork(),
  });
  const start = (source: string, name: string) => startWith(writeBundle(dir.path, name, source));
  try {
    await rejects(() => start("export function main() {}\n", "no-default.js"), /no-default\.js has no default export/);
    await rejects(() => start("export default function main() { let = ; }\n", "broken.js"), /broken\.js does not compile in XS/);
    await rejects(() => startWith(`${dir.path}/none.js`), /app bundle .*none\.js is missing: run "npm run build"/);
  } finally {
    dir.remove();
  }
});

test("a power cut in a flash write halts the device there; its next boot recovers the log and sends what it kept", async () => {
  const broker = await startPacketBroker();
  broker.ack = false;
  const fleet = await startRecordedFleet([appDevice("c-1", broker.port)], { workers: 1 });
  try {
    const device = fleet.device("c-1");
    fleet.engine.powerOn(device);
    await waitFor("a few records in flash", () => observations(broker, "c-1").length >= 4);
    fleet.engine.cutPowerAfter(device, 3, "write");
    await waitFor("the cut", () => fleet.halts.get("c-1")?.length === 1);
    assert.match(fleet.halts.get("c-1")![0], /flash xsedge write: power cut during write/);
    assert.is(device.state, "halted");
    const before = Math.max(...observations(broker, "c-1").map((o) => o.seq));
    broker.ack = true;
    broker.dropAll();
    broker.publishes.length = 0;
    fleet.engine.powerOn(device);
    await waitFor("boot 2 observations", () => observations(broker, "c-1").some((o) => o.boot === 2), 10_000);
    const seqs = new Set(observations(broker, "c-1").filter((o) => o.boot === 1).map((o) => o.seq));
    // Every record the log held whole before the cut is sent again; the torn one at most is lost.
    for (let seq = 1; seq < before - 1; seq++) assert.ok(seqs.has(seq), `boot 1 seq ${seq} (of ${before}) survived the cut`);
    assert.ok(fleet.tracesOf("c-1").some((l) => /xsedge device c-1 boot 2: .* \d+ records in flash/.test(l)));
    assert.equal([...fleet.uncaught.keys()], []);
  } finally {
    await fleet.engine.close();
    await broker.close();
  }
});

test("flash, wear and preferences survive a restart of the simulator when the fleet has a data directory", async () => {
  const broker = await startPacketBroker();
  broker.ack = false;
  const dir = tempDir("fleet-data");
  const spec = { ...appDevice("d-1", broker.port), dataDir: `${dir.path}/d-1` };
  try {
    const first = await startRecordedFleet([spec], { workers: 1 });
    first.engine.powerOn(first.device("d-1"));
    await waitFor("records in flash", () => observations(broker, "d-1").length >= 3);
    const erases = first.device("d-1").flashFigures().totalErases;
    assert.ok(erases >= 1, "the log erased a block to start");
    await first.engine.close();
    broker.ack = true;
    broker.dropAll();
    broker.publishes.length = 0;
    const second = await startRecordedFleet([spec], { workers: 1 });
    try {
      const device = second.device("d-1");
      assert.ok(device.flashFigures().records >= 1, "the log's records are in the file");
      assert.ok(device.flashFigures().totalErases >= erases, "wear adds up across runs");
      second.engine.powerOn(device);
      await waitFor("boot 2 and boot 1's backlog", () => observations(broker, "d-1").some((o) => o.boot === 2) && observations(broker, "d-1").some((o) => o.boot === 1), 10_000);
      assert.ok(second.tracesOf("d-1").some((l) => /xsedge device d-1 boot 2/.test(l)), "the boot counter (a preference) went on");
    } finally {
      await second.engine.close();
    }
  } finally {
    await broker.close();
    dir.remove();
  }
});

test("a part modelled on the host with today's register-level interface still runs: its transfers cross to it", async () => {
  const broker = await startPacketBroker();
  // A user's own model, written against simulator/engine/i2c-bus.ts's I2cTarget, living in Node.
  const model = new Tmp117Model({ temperature: () => 31.25 });
  const spec = { ...appDevice("h-1", broker.port, {}, [{ part: "my-tmp117", address: 0x48, host: true }]), hostParts: new Map([[0x48, model]]) };
  spec.config.sensor = "tmp117";
  const fleet = await startRecordedFleet([spec], { workers: 1 });
  try {
    fleet.engine.powerOn(fleet.device("h-1"));
    await waitFor("observations from the host's model", () => observations(broker, "h-1").length >= 2);
    assert.equal(observations(broker, "h-1")[0].readings, [{ quantity: "temperature", value: 31.25 }]);
    assert.equal([...fleet.uncaught.keys()], []);
  } finally {
    await fleet.engine.close();
    await broker.close();
  }
});

test("a bad setting or partition stops the app at boot, with the error named as on a board; a missing part is a sensor fault", async () => {
  const fleet = await startRecordedFleet([
    appDevice("e-1", 1, { gatewayAddress: "not-an-ip" }),
    appDevice("e-2", 1, { sensorAddress: 0x49 }),
    appDevice("e-3", 1, { flashPartition: "nope" }),
  ], { workers: 1 });
  try {
    for (const device of fleet.engine.devices) fleet.engine.powerOn(device);
    await waitFor("two boot errors and a sensor fault", () => fleet.uncaught.size === 2 && fleet.tracesOf("e-2").some((l) => l.includes("boot 1")));
    assert.match(fleet.uncaught.get("e-1")![0], /^SettingsError: config gatewayAddress: must be an IPv4 address/);
    assert.match(fleet.uncaught.get("e-3")![0], /flash: no partition "nope"/);
    // The runtime keeps a device with a missing part running, and says so, as a board does.
    assert.is(fleet.uncaught.has("e-2"), false);
    assert.match(fleet.tracesOf("e-2")[0], /sensor tmp117 could not open: TMP117 not found at I2C address 0x49/);
  } finally {
    await fleet.engine.close();
  }
});

test("the number of workers follows the cores and the fleet's size", () => {
  assert.is(workersFor(3, 2), 1);
  assert.is(workersFor(150, 2), 2);
  assert.is(workersFor(1000, 2), 2);
  assert.is(workersFor(10_000, 2), 4);
  assert.is(workersFor(1000, 8), 8);
  assert.is(workersFor(1, 8), 1);
});

test.run();
