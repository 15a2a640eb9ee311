/*
 * Refusal log lines on the external-broker path (a real mosquitto): floods
 * of publishes for an unregistered sensor and of malformed records are
 * acknowledged, counted and quarantined one by one, logged once per
 * sensor and reason per interval.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { startGateway } from "../../../hosts/gateway/gateway.js";
import { uplinkTopic } from "../../../hosts/gateway/ingest/ingest.js";
import { REFUSAL_LOG_INTERVAL_MS } from "../../../hosts/gateway/ingest/refusal-log.js";
import { StaticRegistry } from "../../../hosts/gateway/ingest/sensor-registry.js";
import { memoryConnector } from "../../support/gateway-fakes.js";
import { TestMqttClient } from "../../support/gateway-mqtt-client.js";
import { obsPayload } from "../../support/gateway-records.js";
import { Mosquitto } from "../../support/mosquitto.js";
import { tempDir, waitFor, within } from "../../support/test-helpers.js";

const GATEWAY = { username: "xsedge-gateway", password: "gateway-secret-1" };
const S1 = { username: "s-1", password: "sensor-secret-1" };
/** May write anything under xsedge/: publishes for sensors the gateway does not know. */
const TESTER = { username: "tester", password: "tester-secret" };
/** A CBOR array header announcing more elements than follow. */
const MALFORMED = new Uint8Array([0x9f, 0x01]);

test("floods of unregistered and malformed publishes via mosquitto: every one acknowledged and counted, one line each", async () => {
  const broker = await Mosquitto.start([GATEWAY, S1, TESTER], "user tester\ntopic readwrite xsedge/#");
  const dir = tempDir("ext-refusal-log");
  const logger = createMemoryLogger("gateway");
  const clock = { now: Date.now() };
  const gateway = await startGateway({
    httpPort: null, dataDir: dir.path, connector: memoryConnector(), logger, now: () => clock.now,
    registry: new StaticRegistry([{ sensorId: S1.username, secret: S1.password }]),
    externalBroker: { url: broker.url, ...GATEWAY, clientId: "gw-refusal-log", reconnectInitialMs: 50, reconnectMaxMs: 400 },
  });
  try {
    await waitFor("the gateway's subscription", () => gateway.stats().externalBroker?.subscribed);
    const tester = await TestMqttClient.connect(broker.port, "dev-tester", TESTER);
    const device = await TestMqttClient.connect(broker.port, "dev-s-1", S1);
    const ids = tester.publishAll(Array.from({ length: 200 }, () => ({ topic: uplinkTopic("stranger"), payload: obsPayload("stranger", 1) })));
    ids.push(...tester.publishAll(Array.from({ length: 100 }, () => ({ topic: uplinkTopic("s-1"), payload: MALFORMED }))));
    await device.puback(device.publish(uplinkTopic("s-1"), obsPayload("s-1", 1)));
    for (const id of ids) await tester.puback(id);
    await waitFor("all 301 handled", () => gateway.stats().externalBroker?.acked === 301);

    const stats = gateway.stats();
    assert.is(stats.externalBroker?.unregistered, 200);
    assert.is(stats.ingest.refusedByReason.malformed, 100);
    assert.is(stats.store.rejected, 300, "every refused payload is quarantined");
    assert.ok(gateway.store.find("s-1", 1), "the registered device's observation is stored meanwhile");
    const lines = (clientId: string) => logger.lines.filter((l) => l.level === "warn" && String(l.msg).startsWith(`refused publish from ${clientId}:`));
    assert.is(lines("ext:stranger").length, 1, "200 unregistered publishes, one line");
    assert.equal([lines("ext:stranger")[0].reason, lines("ext:stranger")[0].suppressed], ["unregistered", 0]);
    assert.is(lines("ext:s-1").length, 1, "100 malformed records, one line");
    assert.equal([lines("ext:s-1")[0].reason, lines("ext:s-1")[0].suppressed], ["malformed", 0]);

    clock.now += REFUSAL_LOG_INTERVAL_MS;
    await tester.puback(tester.publish(uplinkTopic("stranger"), obsPayload("stranger", 2)));
    await waitFor("the next unregistered publish", () => gateway.stats().externalBroker?.unregistered === 201);
    assert.is(lines("ext:stranger").length, 2);
    assert.is(lines("ext:stranger")[1].suppressed, 199);
    assert.match(String(lines("ext:stranger")[1].msg), /\(199 more like this since the last such line\)$/);
    await Promise.all([tester.end(), device.end()]);
  } finally {
    await within("gateway close", gateway.close());
    dir.remove();
    await broker.remove();
  }
});

test.run();
