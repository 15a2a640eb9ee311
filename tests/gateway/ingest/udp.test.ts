import { test } from "uvu";
import * as assert from "uvu/assert";
import { encode } from "cbor-x";
import { createSocket } from "node:dgram";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { startGateway, type Gateway, type GatewayOptions } from "../../../hosts/gateway/gateway.js";
import { uplinkTopic } from "../../../hosts/gateway/ingest/ingest.js";
import { StaticRegistry } from "../../../hosts/gateway/ingest/sensor-registry.js";
import { MAX_DATAGRAM_BYTES } from "../../../hosts/gateway/ingest/udp/datagram.js";
import { memoryConnector } from "../../support/gateway-fakes.js";
import { TestMqttClient } from "../../support/gateway-mqtt-client.js";
import { anchorPayload, obsPayload, WALL } from "../../support/gateway-records.js";
import { tempDir, waitFor, within } from "../../support/test-helpers.js";
import { UdpSender } from "../../support/udp-sender.js";

const SENSORS = [{ sensorId: "1", secret: "secret-one" }, { sensorId: "300", secret: "secret-300" }, { sensorId: "greenhouse-7", secret: "secret-gh7" }];
const NOW = WALL;
const bytes = (...b: number[]) => Uint8Array.from(b);

interface Harness {
  gateway: Gateway;
  logger: ReturnType<typeof createMemoryLogger>;
  connector: ReturnType<typeof memoryConnector>;
  dataDir: string;
  sender: UdpSender;
}

async function withUdpGateway(run: (h: Harness) => Promise<void>, extra: Partial<GatewayOptions> = {}, dataDir?: string): Promise<void> {
  const dir = dataDir ? undefined : tempDir("udp");
  const logger = createMemoryLogger("gateway");
  const connector = memoryConnector();
  const gateway = await startGateway({
    mqttPort: 0, httpPort: null, udpPort: 0, dataDir: dataDir ?? dir!.path, connector, logger, relayIntervalMs: 50, now: () => NOW,
    registry: new StaticRegistry(SENSORS), ...extra,
  });
  const sender = await UdpSender.open(gateway.udpPort!);
  try {
    await run({ gateway, logger, connector, dataDir: dataDir ?? dir!.path, sender });
  } finally {
    await sender.close();
    await within("gateway close", gateway.close());
    dir?.remove();
  }
}

const udp = (gateway: Gateway) => gateway.stats().udp!;
const handled = (gateway: Gateway) => { const c = udp(gateway); return c.stored + c.duplicate + c.anchors + c.refused + c.perSourceLimited + c.failed; };
async function settled(gateway: Gateway, count: number): Promise<void> {
  await waitFor(`${count} datagrams handled`, () => handled(gateway) >= count);
}

test("UDP is off unless udpPort is given", async () => {
  const dir = tempDir("udp-off");
  const gateway = await startGateway({ mqttPort: 0, httpPort: null, dataDir: dir.path, connector: memoryConnector(), logger: createMemoryLogger() });
  assert.is(gateway.udpPort, undefined);
  assert.is(gateway.stats().udp, undefined);
  await gateway.close();
  dir.remove();
});

test("the sample's 01 02 from registered sensor 1 is stored as 2 °C at receipt, and relayed", async () => {
  await withUdpGateway(async ({ gateway, connector, sender }) => {
    assert.ok(gateway.udpPort! > 0);
    await sender.send(bytes(0x01, 0x02));
    await settled(gateway, 1);
    assert.is(udp(gateway).stored, 1);
    const row = gateway.store.find("1", 1)!;
    assert.equal(row.observation.readings, [{ quantity: "temperature", value: 2 }]);
    assert.is(row.observation.time, NOW);
    assert.is(row.observation.timeSource, "gateway");
    const relayed = await waitFor("the relay to send it", () => connector.batches.flat().find((o) => o.sensorId === "1"));
    assert.is(relayed.seq, 1);
    assert.is(relayed.readings[0].value, 2);
  });
});

test("multi-byte varints as the sample encodes them: dev_addr 300 at 200 °C is sensor \"300\"", async () => {
  await withUdpGateway(async ({ gateway, sender }) => {
    await sender.send(bytes(0xac, 0x02, 0xc8, 0x01));
    await settled(gateway, 1);
    assert.is(gateway.store.find("300", 1)?.observation.readings[0].value, 200);
  });
});

test("a non-numeric sensor id arrives as our CBOR record; repeats are duplicates; the same bytes over MQTT are the same record", async () => {
  await withUdpGateway(async ({ gateway, sender }) => {
    await sender.send(anchorPayload("greenhouse-7", 1, 0, WALL - 60_000));
    await sender.send(obsPayload("greenhouse-7", 1));
    await sender.send(encode([3, "greenhouse-7", 1, [1], 2, 2000, 2150, 1, 1000, 2160]));
    await sender.send(obsPayload("greenhouse-7", 1));
    await settled(gateway, 4);
    const c = udp(gateway);
    assert.equal([c.anchors, c.stored, c.duplicate, c.refused], [1, 3, 1, 0]);
    assert.is(gateway.store.find("greenhouse-7", 3)?.observation.readings[0].value, 21.6);
    assert.is(gateway.store.find("greenhouse-7", 1)?.observation.time, WALL - 60_000 + 1000, "timed by the anchor, as over MQTT");
    const device = await TestMqttClient.connect(gateway.mqttPort!, "greenhouse-7", { username: "greenhouse-7", password: "secret-gh7" });
    await device.puback(device.publish(uplinkTopic("greenhouse-7"), obsPayload("greenhouse-7", 1)));
    assert.is(gateway.stats().ingest.duplicate, 2, "the MQTT copy is a duplicate of the UDP one");
    await device.end();
  });
});

const badDatagrams: Array<[string, Uint8Array, string, string]> = [
  ["a truncated varint", bytes(0x01, 0x80), "malformed", "temperature"],
  ["an overlong varint", bytes(0x81, 0x80, 0x80, 0x80, 0x80, 0x00, 0x02), "malformed", "dev_addr"],
  ["a value over u32", bytes(0x01, 0xff, 0xff, 0xff, 0xff, 0x1f), "malformed", "temperature"],
  ["trailing bytes", bytes(0x01, 0x02, 0x00), "malformed", "message"],
  ["an empty datagram", bytes(), "malformed", "datagram"],
  ["random bytes", bytes(0x3e, 0xd1, 0x07, 0xff, 0x92, 0x10, 0xab, 0x55, 0xc3, 0x00, 0x7a, 0xe4, 0x19), "malformed", "record"],
  ["an oversized datagram", new Uint8Array(MAX_DATAGRAM_BYTES + 1).fill(0x81), "too-large", "datagram"],
  ["a CBOR record with a bad field", encode([1, "greenhouse-7", 0, 1, 1000, 1, 2150]), "malformed", "seq"],
];

for (const [what, datagram, reason, field] of badDatagrams) {
  test(`${what} is refused (${reason}, ${field}), counted, quarantined and logged; the next good datagram is stored`, async () => {
    await withUdpGateway(async ({ gateway, logger, sender }) => {
      await sender.send(datagram);
      await settled(gateway, 1);
      await sender.send(bytes(0x01, 0x02));
      await settled(gateway, 2);
      const c = udp(gateway);
      assert.is(c.refused, 1);
      assert.is(c.refusedByReason[reason as keyof typeof c.refusedByReason], 1);
      assert.is(c.stored, 1);
      assert.ok(gateway.store.find("1", 1), "the good datagram after it is stored");
      const [quarantined] = gateway.store.rejected(1 + 1).filter((r) => r.reason === reason);
      assert.ok(quarantined, "quarantined");
      assert.equal([quarantined.clientId, quarantined.topic, quarantined.field, quarantined.size], [sender.clientId, "udp", field, datagram.byteLength]);
      const line = logger.lines.find((l) => l.level === "warn" && String(l.msg).startsWith("refused UDP datagram"));
      assert.ok(line, "logged");
      assert.is(line!.reason, reason);
      assert.is(line!.field, field);
      assert.is(line!.quarantineId, quarantined.id);
    });
  });
}

test("an unregistered dev_addr is refused, counted, quarantined and logged, never stored", async () => {
  await withUdpGateway(async ({ gateway, logger, sender }) => {
    await sender.send(bytes(0x02, 0x15));
    await settled(gateway, 1);
    assert.is(udp(gateway).refusedByReason.unregistered, 1);
    assert.is(gateway.store.find("2", 1), undefined);
    assert.is(gateway.store.counts().observations, 0);
    assert.is(gateway.store.rejected(1)[0].reason, "unregistered");
    assert.ok(logger.lines.some((l) => l.reason === "unregistered" && /sensor "2" is not registered/.test(String(l.msg))));
  });
});

test("with no registry given, UDP accepts only what the registration projection holds (nothing, before the cloud is reached)", async () => {
  await withUdpGateway(async ({ gateway, sender }) => {
    await sender.send(bytes(0x01, 0x02));
    await settled(gateway, 1);
    assert.is(udp(gateway).refusedByReason.unregistered, 1);
    assert.is(gateway.store.counts().observations, 0);
  }, { registry: undefined, registrationUrl: "http://127.0.0.1:9" });
});

test("a flood of bad datagrams from one source logs one line, counting what it held back", async () => {
  await withUdpGateway(async ({ gateway, logger, sender }) => {
    for (let i = 0; i < 20; i++) await sender.send(bytes(0x01, 0x80));
    await settled(gateway, 20);
    assert.is(udp(gateway).refusedByReason.malformed, 20);
    assert.is(gateway.store.counts().rejected, 20);
    const lines = logger.lines.filter((l) => String(l.msg).startsWith("refused UDP datagram"));
    assert.is(lines.length, 1);
    assert.is(lines[0].heldBack, 0, "the first line of an interval: nothing held back yet");
  });
});

test("a flood from one source address is limited and counted; another source's datagrams are still stored", async () => {
  await withUdpGateway(async ({ gateway, logger, sender }) => {
    for (let i = 0; i < 30; i++) await sender.send(bytes(0x01, i));
    await settled(gateway, 30);
    assert.equal([udp(gateway).stored, udp(gateway).perSourceLimited], [5, 25]);
    assert.is(logger.lines.filter((l) => /over its limit/.test(String(l.msg))).length, 1, "one log line for the whole flood");
    const other = await UdpSender.open(gateway.udpPort!, "127.0.0.2");
    for (let i = 0; i < 3; i++) await other.send(bytes(0xac, 0x02, i));
    await settled(gateway, 33);
    await other.close();
    assert.equal([udp(gateway).stored, udp(gateway).perSourceLimited], [8, 25]);
    assert.is(gateway.store.find("300", 3)?.observation.readings[0].value, 2);
    assert.is(gateway.store.counts().rejected, 0, "a flood is counted, not quarantined");
  }, { udpSourceLimit: { capacity: 5, refillPerSecond: 0.01 } });
});

test("a restarted gateway continues a Postcard sensor's seq numbers where the store ends", async () => {
  const dir = tempDir("udp-restart");
  await withUdpGateway(async ({ gateway, sender }) => {
    for (const t of [10, 11, 12]) await sender.send(bytes(0x01, t));
    await settled(gateway, 3);
  }, {}, dir.path);
  await withUdpGateway(async ({ gateway, sender }) => {
    for (const t of [13, 14]) await sender.send(bytes(0x01, t));
    await settled(gateway, 2);
    assert.is(udp(gateway).stored, 2);
    assert.equal([1, 2, 3, 4, 5].map((seq) => gateway.store.find("1", seq)?.observation.readings[0].value), [10, 11, 12, 13, 14]);
  }, {}, dir.path);
  dir.remove();
});

test("a CBOR record that takes the seq a Postcard sensor would use next does not collide", async () => {
  await withUdpGateway(async ({ gateway, sender }) => {
    await sender.send(bytes(0x01, 20));
    await settled(gateway, 1);
    await sender.send(obsPayload("1", 2));
    await settled(gateway, 2);
    await sender.send(bytes(0x01, 21));
    await settled(gateway, 3);
    assert.equal([udp(gateway).stored, udp(gateway).refused], [3, 0]);
    assert.is(gateway.store.find("1", 3)?.observation.readings[0].value, 21);
  });
});

test("a datagram the store cannot commit is counted as failed and logged; the gateway keeps running", async () => {
  await withUdpGateway(async ({ gateway, logger, sender }) => {
    gateway.store.close();
    await sender.send(bytes(0x01, 0x02));
    await settled(gateway, 1);
    assert.is(udp(gateway).failed, 1);
    assert.ok(logger.lines.some((l) => l.level === "error" && /UDP datagram/.test(String(l.msg))));
  });
});

test("a UDP port already in use fails startGateway with the socket's error", async () => {
  const taken = createSocket("udp4");
  await new Promise<void>((resolve) => taken.bind(0, "127.0.0.1", () => resolve()));
  const dir = tempDir("udp-taken");
  try {
    await startGateway({ mqttPort: 0, httpPort: null, udpPort: taken.address().port, dataDir: dir.path, connector: memoryConnector(), logger: createMemoryLogger() })
      .then(() => assert.unreachable("started"), (e: NodeJS.ErrnoException) => assert.is(e.code, "EADDRINUSE"));
  } finally {
    taken.close();
    dir.remove();
  }
});

test.run();
