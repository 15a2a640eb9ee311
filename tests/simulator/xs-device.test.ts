/*
 * The device bundle on the real XS engine (xsnap-worker), against an MQTT
 * server built on mqtt-packet: what leaves the simulated device are the
 * device's own bytes, and its flash log lives in a NOR model that outlives
 * the worker, as a board's flash outlives a power cut.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { decodeUplinkRecord, type UplinkRecord } from "../../modules/observation/record-decoder.js";
import type { Observation } from "../../modules/observation/record.js";
import type { SensorPart } from "../../modules/app/parts.js";
import { loadDeviceBundle, SIM_FLASH } from "../../simulator/fleet.js";
import { SimulatedDevice } from "../../simulator/engine/simulated-device.js";
import { PreferenceStore } from "../../simulator/engine/preference-store.js";
import { NorFlash } from "../../simulator/storage/nor-flash.js";
import { attachSensorModel } from "../../simulator/sensors/sensor-models.js";
import { Tmp117Model } from "../../simulator/sensors/tmp117-model.js";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import { freePort, waitFor } from "../support/test-helpers.js";
import { startPacketBroker, type PacketBroker } from "../support/packet-broker.js";

const bundle = loadDeviceBundle();

interface Board { flash: NorFlash; preferences: PreferenceStore }
const newBoard = (): Board => ({ flash: new NorFlash({ blockSize: SIM_FLASH.blockSize, blocks: SIM_FLASH.blocks }), preferences: new PreferenceStore() });

function device(port: number, options: { board?: Board; config?: Record<string, unknown>; part?: SensorPart; celsius?: number } = {}) {
  const board = options.board ?? newBoard();
  const logger = createMemoryLogger();
  const traces: string[] = [];
  const sim = new SimulatedDevice({
    name: "dev-under-test",
    bundle,
    logger,
    preferences: board.preferences,
    flash: { [SIM_FLASH.partition]: board.flash },
    config: { sensorId: "t-1", gatewayAddress: "127.0.0.1", gatewayPort: port, samplePeriodMs: 20, batchMaxAgeMs: 0, sensor: options.part ?? "tmp117", ...options.config },
    onTrace: (line) => traces.push(line),
  });
  if (options.part && options.part !== "tmp117") attachSensorModel(sim.i2c, options.part, 1, () => sim.clock.now());
  else sim.i2c.attach(0x48, new Tmp117Model({ temperature: () => options.celsius ?? 23.5 }));
  return { sim, board, logger, traces };
}

const records = (broker: PacketBroker): UplinkRecord[] => broker.publishes.map((p) => decodeUplinkRecord(p.payload));
const observations = (broker: PacketBroker): Observation[] =>
  records(broker).flatMap((r) => (r.kind === "observation" ? [r.observation] : r.kind === "batch" ? r.observations : []));

test("boots on XS, anchors its boot to its synced clock, and publishes CBOR observations with QoS 1", async () => {
  const broker = await startPacketBroker();
  const { sim, traces } = device(broker.port);
  try {
    await sim.start();
    await waitFor("two observations", () => observations(broker).length >= 2);
    assert.is(broker.connects[0].clientId, "t-1");
    assert.ok(broker.publishes.every((p) => p.topic === "xsedge/v1/t-1/up" && p.qos === 1));
    const [first] = records(broker);
    assert.is(first.kind, "clock", "the boot's clock anchor comes before its observations");
    if (first.kind === "clock") {
      assert.is(first.anchor.boot, 1);
      assert.ok(first.anchor.wallMs !== null && Math.abs(first.anchor.wallMs - Date.now()) < 60_000);
    }
    const [one, two] = observations(broker);
    assert.equal({ ...one, uptimeMs: 0 }, { sensorId: "t-1", seq: 1, boot: 1, uptimeMs: 0, readings: [{ quantity: "temperature", value: 23.5 }] });
    assert.is(two.seq, 2);
    // A host stalled past two periods fires both timer callbacks in one turn: equal uptimes are possible, earlier ones never.
    assert.ok(two.uptimeMs >= one.uptimeMs);
    assert.ok(traces.some((line) => line.includes("xsedge device t-1 boot 1: tmp117")), traces.join("\n"));
    assert.ok(sim.heapSlots > 0, "xsnap reports the heap");
    assert.is(sim.stats().uncaught, 0);
  } finally {
    await sim.stop();
    await broker.close();
  }
});

test("observations travel in batches that close by age, each one record in flash and one publish", async () => {
  const broker = await startPacketBroker();
  const { sim, board } = device(broker.port, { config: { batchMaxAgeMs: 200 } });
  try {
    await sim.start();
    await waitFor("two batches", () => records(broker).filter((r) => r.kind === "batch").length >= 2, 5000);
    const batches = records(broker).filter((r) => r.kind === "batch");
    for (const b of batches) assert.ok(b.kind === "batch" && b.observations.length >= 3, "about ten samples of 20 ms per 200 ms batch");
    const seqs = observations(broker).map((o) => o.seq);
    assert.equal(seqs, seqs.map((_, i) => i + 1), "consecutive, none lost or repeated");
    assert.ok(board.flash.operations > 0);
  } finally {
    await sim.stop();
    await broker.close();
  }
});

test("a batch that fills up before its age closes and the next one opens, with no sample lost (built-ins frozen, as on a board)", async () => {
  const broker = await startPacketBroker();
  const { sim, traces } = device(broker.port, { config: { batchMaxAgeMs: 60_000 } });
  try {
    await sim.start();
    // 255 bytes hold about 30 TMP117 samples; at one every 20 ms the first batch fills in under a second.
    await waitFor("two full batches", () => records(broker).filter((r) => r.kind === "batch").length >= 2, 8000);
    const batches = records(broker).filter((r) => r.kind === "batch");
    assert.ok(batches.every((b) => b.kind === "batch" && b.observations.length >= 25), batches.map((b) => (b.kind === "batch" ? b.observations.length : 0)).join(", "));
    const seqs = observations(broker).map((o) => o.seq);
    assert.equal(seqs, seqs.map((_, i) => i + 1), "consecutive across the batches");
    assert.not.ok(traces.some((line) => line.includes("not recorded")), traces.join("\n"));
    assert.is(sim.stats().uncaught, 0);
  } finally {
    await sim.stop();
    await broker.close();
  }
});

test("a device without a synced clock lets the gateway's clock anchor each connection", async () => {
  const broker = await startPacketBroker();
  const { sim } = device(broker.port, { config: { clockSynced: false } });
  try {
    await sim.start();
    await waitFor("an observation", () => observations(broker).length >= 1);
    const anchors = records(broker).filter((r) => r.kind === "clock");
    assert.is(anchors.length, 1);
    assert.is(anchors[0].kind === "clock" && anchors[0].anchor.wallMs, null);
  } finally {
    await sim.stop();
    await broker.close();
  }
});

test("records wait in flash while nothing is acknowledged, and all arrive once it is", async () => {
  const broker = await startPacketBroker();
  broker.ack = false;
  const { sim } = device(broker.port);
  try {
    await sim.start();
    await waitFor("the in-flight window to fill", () => broker.publishes.length >= 8);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.is(broker.publishes.length, 8, "no more than the window is sent unacknowledged");
    broker.ack = true;
    broker.dropAll();
    await waitFor("every record after reconnect", () => {
      const seqs = new Set(observations(broker).map((o) => o.seq));
      return seqs.size >= 15 && [...Array(15).keys()].every((i) => seqs.has(i + 1));
    }, 8000);
  } finally {
    await sim.stop();
    await broker.close();
  }
});

test("after a power cut the next boot sends what was never acknowledged, then carries on", async () => {
  const broker = await startPacketBroker();
  broker.ack = false;
  const first = device(broker.port);
  let second: ReturnType<typeof device> | undefined;
  try {
    await first.sim.start();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await first.sim.stop();
    const before = Math.max(...observations(broker).map((o) => o.seq));
    assert.ok(before >= 1);
    broker.ack = true;
    broker.dropAll();
    broker.publishes.length = 0;
    second = device(broker.port, { board: first.board });
    await second.sim.start();
    await waitFor("the first boot's records and the second boot's", () => {
      const obs = observations(broker);
      const seqs = new Set(obs.map((o) => o.seq));
      return obs.some((o) => o.boot === 2) && [...Array(before).keys()].every((i) => seqs.has(i + 1));
    }, 8000);
    const obs = observations(broker);
    assert.ok(obs.filter((o) => o.boot === 1).length >= before, "boot 1's backlog came from flash");
    assert.ok(Math.min(...obs.filter((o) => o.boot === 2).map((o) => o.seq)) > before, "sequence numbers moved on");
  } finally {
    await second?.sim.stop();
    await broker.close();
  }
});

test("with the gateway down at boot, records are logged and delivered in order when it comes up", async () => {
  const port = await freePort();
  const { sim } = device(port);
  let broker: PacketBroker | undefined;
  try {
    await sim.start();
    await new Promise((resolve) => setTimeout(resolve, 300));
    broker = await startPacketBroker(port);
    const b = broker;
    await waitFor("the backlog", () => observations(b).length >= 10, 8000);
    const seqs = observations(b).map((o) => o.seq);
    assert.equal(seqs.slice(0, 10), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  } finally {
    await sim.stop();
    await broker?.close();
  }
});

test("SHT3x and BME280 parts report their quantities through the XS drivers", async () => {
  const broker = await startPacketBroker();
  try {
    for (const [part, quantities] of [["sht3x", ["temperature", "humidity"]], ["bme280", ["temperature", "humidity", "pressure"]]] as const) {
      broker.publishes.length = 0;
      const { sim } = device(broker.port, { part });
      try {
        await sim.start();
        const [obs] = await waitFor(`a ${part} observation`, () => { const o = observations(broker); return o.length > 0 && o; });
        assert.equal(obs.readings.map((r) => r.quantity), [...quantities], part);
        assert.is(sim.stats().uncaught, 0);
      } finally {
        await sim.stop();
      }
    }
  } finally {
    await broker.close();
  }
});

async function bootError(config: Record<string, unknown>, board?: Board): Promise<string> {
  const { sim, logger } = device(1, { config, board });
  try {
    await sim.start();
    assert.is(sim.stats().uncaught, 1);
    return String(logger.lines.find((l) => l.msg === "uncaught exception on device")?.error);
  } finally {
    await sim.stop();
  }
}

test("a missing part does not stop the device: it is traced, counted, looked for at each sample, and sampled once it answers", async () => {
  const broker = await startPacketBroker();
  const { sim, traces } = device(broker.port, { config: { sensorAddress: 0x49 } });
  try {
    await sim.start();
    await waitFor("the fault's trace", () => traces.some((line) => line.includes("sensor tmp117 could not open: TMP117 not found at I2C address 0x49")));
    await waitFor("a connection all the same", () => broker.connects.length === 1);
    assert.is(observations(broker).length, 0);
    sim.i2c.attach(0x49, new Tmp117Model({ temperature: () => 19.5 }));
    await waitFor("observations once the part answers", () => observations(broker).length >= 2);
    assert.equal(observations(broker)[0].readings, [{ quantity: "temperature", value: 19.5 }]);
    assert.is(sim.stats().uncaught, 0);
  } finally {
    await sim.stop();
    await broker.close();
  }
});

test("bad config and bad provisioned preferences stop the app at boot naming the cause", async () => {
  assert.match(await bootError({ sensor: "dht22" }), /config sensor: must be one of tmp117, sht3x, bme280/);
  assert.match(await bootError({ sensorAddress: 0x80 }), /config sensorAddress: must be an integer from 0 to 119/);
  assert.match(await bootError({ gatewayAddress: "not-an-ip" }), /config gatewayAddress: must be an IPv4 address/);
  assert.match(await bootError({ logPolicy: "keep-all" }), /config logPolicy: must be one of drop-oldest, refuse-newest/);
  assert.match(await bootError({ flashPartition: "nope" }), /flash: no partition "nope"/);
  const board = newBoard();
  board.preferences.set("xsedge-config", "gatewayPort", 0);
  const provisioned = await bootError({}, board);
  assert.match(provisioned, /preference xsedge-config\/gatewayPort: must be an integer from 1 to 65535/, provisioned);
});

test("provisioned preferences override the manifest's config", async () => {
  const broker = await startPacketBroker();
  const board = newBoard();
  board.preferences.set("xsedge-config", "sensorId", "provisioned-7");
  board.preferences.set("xsedge-config", "gatewayPort", broker.port);
  const { sim } = device(1, { board });
  try {
    await sim.start();
    await waitFor("an observation", () => observations(broker).length >= 1);
    assert.is(observations(broker)[0].sensorId, "provisioned-7");
    assert.is(broker.publishes[0].topic, "xsedge/v1/provisioned-7/up");
  } finally {
    await sim.stop();
    await broker.close();
  }
});

test.run();
