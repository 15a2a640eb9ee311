/*
 * The device bundle on the real XS engine (xsnap-worker), against an MQTT
 * server built on mqtt-packet: what leaves the simulated device are the
 * device's own bytes.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeObservation } from "../modules/observation/record.js";
import { loadDeviceBundle } from "../simulator/fleet.js";
import { SimulatedDevice } from "../simulator/engine/simulated-device.js";
import { PreferenceStore } from "../simulator/engine/preference-store.js";
import { TMP117_ADDRESS, Tmp117Model } from "../simulator/sensors/tmp117-model.js";
import { createMemoryLogger } from "../hosts/log/logger.js";
import { startPacketBroker } from "./support/packet-broker.js";
import { waitFor } from "./support/test-helpers.js";

const bundle = loadDeviceBundle();

function device(port: number, options: { config?: Record<string, unknown>; preferences?: PreferenceStore; celsius?: number } = {}) {
  const traces: string[] = [];
  const logger = createMemoryLogger();
  const sim = new SimulatedDevice({
    name: "dev-under-test",
    bundle,
    logger,
    preferences: options.preferences,
    config: { sensorId: "t-1", gatewayAddress: "127.0.0.1", gatewayPort: port, samplePeriodMs: 20, ...options.config },
    onTrace: (line) => traces.push(line),
  });
  const model = new Tmp117Model({ temperature: () => options.celsius ?? 23.5 });
  sim.i2c.attach(TMP117_ADDRESS, model);
  return { sim, model, traces, logger };
}

test("the device bundle boots on XS and publishes a CBOR observation with QoS 1", async () => {
  const broker = await startPacketBroker();
  const { sim, traces } = device(broker.port);
  try {
    await sim.start();
    await waitFor("a publish", () => broker.publishes.length >= 2);
    assert.equal(broker.connects[0].clientId, "t-1");
    const first = broker.publishes[0];
    assert.is(first.topic, "xsedge/v1/t-1/obs");
    assert.is(first.qos, 1);
    const obs = decodeObservation(first.payload);
    assert.is(obs.sensorId, "t-1");
    assert.is(obs.seq, 1);
    assert.is(obs.boot, 1);
    assert.equal(obs.readings, [{ quantity: "temperature", value: 23.5 }]);
    assert.ok(obs.time !== undefined && Math.abs(obs.time - Date.now()) < 60_000, "wall time from the host clock");
    assert.is(decodeObservation(broker.publishes[1].payload).seq, 2);
    assert.ok(traces.some((line) => line.includes("xsedge device t-1 boot 1")), traces.join("\n"));
    assert.ok(sim.heapSlots > 0, "xsnap reports the heap");
    assert.is(sim.stats().uncaught, 0);
  } finally {
    await sim.stop();
    await broker.close();
  }
});

test("sequence numbers continue past a reboot, and the boot counter advances", async () => {
  const dir = mkdtempSync(join(tmpdir(), "xsedge-prefs-"));
  const broker = await startPacketBroker();
  try {
    const file = join(dir, "preferences.json");
    const first = device(broker.port, { preferences: new PreferenceStore(file) });
    await first.sim.start();
    await waitFor("first boot's publish", () => broker.publishes.length >= 1);
    await first.sim.stop();
    const lastBefore = Math.max(...broker.publishes.map((p) => decodeObservation(p.payload).seq));
    const second = device(broker.port, { preferences: new PreferenceStore(file) });
    await second.sim.start();
    const after = await waitFor("second boot's publish", () => broker.publishes.map((p) => decodeObservation(p.payload)).find((o) => o.boot === 2));
    await second.sim.stop();
    assert.ok(after.seq > lastBefore, `seq ${after.seq} after ${lastBefore}`);
  } finally {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("records wait while the broker does not acknowledge and are sent when it does", async () => {
  const broker = await startPacketBroker();
  broker.ack = false;
  const { sim } = device(broker.port);
  try {
    await sim.start();
    // The client's window fills and stops sending; nothing is lost while it waits.
    await waitFor("the in-flight window to fill", () => broker.publishes.length >= 8);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.is(broker.publishes.length, 8, "no more than the window is sent unacknowledged");
    broker.ack = true;
    broker.dropAll();
    await waitFor("queued records after reconnect", () => {
      const seqs = new Set(broker.publishes.map((p) => decodeObservation(p.payload).seq));
      return seqs.size >= 12 && [...Array(12).keys()].every((i) => seqs.has(i + 1));
    }, 8000);
  } finally {
    await sim.stop();
    await broker.close();
  }
});

test("a missing sensor stops the app at boot with a clear error, counted as uncaught", async () => {
  const broker = await startPacketBroker();
  const { sim, logger } = device(broker.port, { config: { sensorAddress: 0x49 } });
  try {
    await sim.start();
    assert.is(sim.stats().uncaught, 1);
    const line = logger.lines.find((l) => l.msg === "uncaught exception on device");
    assert.match(String(line?.error), /TMP117 not found at I2C address 0x49/);
  } finally {
    await sim.stop();
    await broker.close();
  }
});

test("invalid configuration is refused at boot naming the key", async () => {
  const { sim, logger } = device(1, { config: { gatewayAddress: "not-an-ip" } });
  try {
    await sim.start();
    const line = logger.lines.find((l) => l.msg === "uncaught exception on device");
    assert.match(String(line?.error), /config gatewayAddress: must be an IPv4 address/);
  } finally {
    await sim.stop();
  }
});

test.run();
