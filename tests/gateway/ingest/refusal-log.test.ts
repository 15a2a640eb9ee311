/*
 * Refused input is counted and quarantined one by one, but logged at most
 * once per client and reason per interval (hosts/gateway/ingest/refusal-log.ts): the pure
 * throttle, then floods of malformed publishes and of bad CONNECTs through
 * the gateway's real broker, with the gateway's clock injected.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { connect } from "node:net";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { startGateway, type Gateway } from "../../../hosts/gateway/gateway.js";
import { uplinkTopic } from "../../../hosts/gateway/ingest/ingest.js";
import { MAX_THROTTLED_KEYS } from "../../../hosts/log/log-throttle.js";
import {
  MAX_KEYED_CLIENT_ID_CHARS, MAX_REFUSAL_LINES_PER_INTERVAL, MAX_REFUSAL_MESSAGE_CHARS, REFUSAL_LOG_INTERVAL_MS, RefusalLog, RefusalThrottle,
} from "../../../hosts/gateway/ingest/refusal-log.js";
import { StaticRegistry } from "../../../hosts/gateway/ingest/sensor-registry.js";
import { memoryConnector } from "../../support/gateway-fakes.js";
import { TestMqttClient, type Credentials } from "../../support/gateway-mqtt-client.js";
import { obsPayload } from "../../support/gateway-records.js";
import { tempDir, within } from "../../support/test-helpers.js";

type Line = Record<string, unknown>;

test("throttle: a key's first refusal logs at once; later ones within the interval are counted onto its next line", () => {
  const throttle = new RefusalThrottle(1000, 20);
  assert.equal(throttle.note("dev-1", "malformed", 0), { log: true, suppressed: 0, unlogged: 0 });
  for (let i = 1; i <= 9; i++) assert.equal(throttle.note("dev-1", "malformed", i), { log: false });
  assert.equal(throttle.note("dev-1", "too-large", 10), { log: true, suppressed: 0, unlogged: 0 }, "another reason is another key");
  assert.equal(throttle.note("dev-2", "malformed", 10), { log: true, suppressed: 0, unlogged: 0 }, "another client is another key");
  assert.equal(throttle.note(null, "malformed", 10), { log: true, suppressed: 0, unlogged: 0 }, "a will (no client) has a key of its own");
  assert.equal(throttle.note("dev-1", "malformed", 1000), { log: true, suppressed: 9, unlogged: 0 });
  assert.equal(throttle.note("dev-1", "malformed", 1001), { log: false });
});

test("a refusal line is clipped: a 65,000-character client id neither fills the message nor the clientId field", () => {
  const logger = createMemoryLogger();
  const long = "c".repeat(65_000);
  new RefusalLog(logger, () => 0).warn(long, "malformed", `refused publish from ${long}: malformed`, { clientId: long, reason: "malformed" });
  assert.is(logger.lines.length, 1);
  const [line] = logger.lines;
  assert.ok(String(line.msg ?? line.message).length < MAX_REFUSAL_MESSAGE_CHARS + 64, "message clipped");
  assert.match(String(line.msg ?? line.message), /… \(65\d{3} characters\)/);
  assert.ok(String(line.clientId).length < MAX_KEYED_CLIENT_ID_CHARS + 32, "clientId field clipped");
  assert.is(line.reason, "malformed", "other fields kept");
});

test("throttle: at most maxLines lines per interval over all keys; the rest are summed onto the next line", () => {
  const throttle = new RefusalThrottle(1000, 3);
  const logged = Array.from({ length: 10 }, (_, i) => throttle.note(`random-${i}`, "bad-secret", 0).log);
  assert.equal(logged, [true, true, true, false, false, false, false, false, false, false]);
  assert.equal(throttle.note("random-0", "bad-secret", 1), { log: false }, "still within its own interval");
  // A key left out by the overall limit carries its own suppressed count into the sum.
  assert.equal(throttle.note("random-0", "bad-secret", 1000), { log: true, suppressed: 1, unlogged: 7 });
  assert.equal(throttle.note("random-1", "bad-secret", 1000), { log: true, suppressed: 0, unlogged: 0 });
  assert.throws(() => new RefusalThrottle(1000, 0), RangeError);
});

test("throttle: random client ids, however many and however long, keep its memory bounded", () => {
  const throttle = new RefusalThrottle(1000, MAX_REFUSAL_LINES_PER_INTERVAL);
  for (let i = 0; i < 20_000; i++) throttle.note(`client-${i}-${Math.random()}`, "malformed", i);
  assert.ok(throttle.keys <= MAX_THROTTLED_KEYS, `${throttle.keys} keys kept`);
  const long = "x".repeat(65_000);
  const fresh = new RefusalThrottle(1000, 20);
  assert.ok(fresh.note(`${long}a`, "malformed", 0).log);
  assert.equal(fresh.note(`${long}b`, "malformed", 1), { log: false }, "ids are keyed by a bounded prefix");
});

test("throttle: a clock stepped back ends the interval rather than silencing the key", () => {
  const throttle = new RefusalThrottle(1000, 1);
  assert.ok(throttle.note("dev-1", "malformed", 50_000).log);
  assert.equal(throttle.note("dev-1", "malformed", 50_001), { log: false });
  assert.equal(throttle.note("dev-1", "malformed", 10_000), { log: true, suppressed: 1, unlogged: 0 });
});

const SECRETS: Record<string, string> = { "s-1": "secret-one-111", "s-2": "secret-two-222", "s-3": "secret-three-333" };
const as = (sensorId: string): Credentials => ({ username: sensorId, password: SECRETS[sensorId] });

async function withGateway(run: (gateway: Gateway, lines: Line[], clock: { now: number }) => Promise<void>): Promise<void> {
  const dir = tempDir("refusal-log");
  const logger = createMemoryLogger("gateway");
  const clock = { now: Date.now() };
  const registry = new StaticRegistry(Object.entries(SECRETS).map(([sensorId, secret]) => ({ sensorId, secret })));
  const gateway = await startGateway({
    httpPort: null, mqttPort: 0, dataDir: dir.path, connector: memoryConnector(), logger, registry, now: () => clock.now,
    // The flood is to reach ingest, not be cut short by the per-device limit; the CONNECT loops, the log, not the login throttle.
    rateLimitPerSecond: Infinity,
    mqttLoginThrottle: { initialDelayMs: 0, maxFailures: 1_000 },
  });
  try {
    await run(gateway, logger.lines, clock);
  } finally {
    await within("gateway close", gateway.close());
    dir.remove();
  }
}

const warnings = (lines: Line[], prefix: string) => lines.filter((l) => l.level === "warn" && String(l.msg).startsWith(prefix));
const sum = (lines: Line[], field: string) => lines.reduce((total, l) => total + Number(l[field] ?? 0), 0);
/** A CBOR array header announcing more elements than follow. */
const MALFORMED = new Uint8Array([0x9f, 0x01]);

test("500 malformed publishes from one client: each acknowledged, counted and quarantined; one line, then one with the count", async () => {
  await withGateway(async (gateway, lines, clock) => {
    const flooder = await TestMqttClient.connect(gateway.mqttPort!, "s-1", as("s-1"));
    const other = await TestMqttClient.connect(gateway.mqttPort!, "s-2", as("s-2"));
    const good = await TestMqttClient.connect(gateway.mqttPort!, "s-3", as("s-3"));
    const ids: number[] = [];
    for (let chunk = 0; chunk < 5; chunk++) {
      ids.push(...flooder.publishAll(Array.from({ length: 100 }, () => ({ topic: uplinkTopic("s-1"), payload: MALFORMED }))));
      if (chunk === 2) {
        // Meanwhile: another client's first refusal, and a good publish from a third.
        await other.puback(other.publish(uplinkTopic("s-2"), MALFORMED));
        await good.puback(good.publish(uplinkTopic("s-3"), obsPayload("s-3", 1)));
      }
    }
    for (const id of ids) await flooder.puback(id);

    const stats = gateway.stats();
    assert.is(stats.ingest.refused, 501);
    assert.is(stats.ingest.refusedByReason.malformed, 501);
    assert.is(stats.store.rejected, 501, "every refused payload is quarantined (the cap is far above 501)");
    assert.is(gateway.store.rejected(1000).filter((r) => r.clientId === "s-1").length, 500);
    assert.ok(gateway.store.find("s-3", 1), "the good publish is stored");
    assert.is(stats.ingest.stored, 1);

    const first = warnings(lines, "refused publish from s-1:");
    assert.is(first.length, 1, "the flood wrote one line");
    assert.match(String(first[0].msg), /^refused publish from s-1: malformed \(record\): \S/);
    assert.equal([first[0].clientId, first[0].reason, first[0].field, first[0].suppressed], ["s-1", "malformed", "record", 0]);
    assert.is(typeof first[0].quarantineId, "number", "the first line names the quarantined row");
    const second = warnings(lines, "refused publish from s-2:");
    assert.is(second.length, 1, "another client's first refusal is logged although s-1's are held back");
    assert.is(second[0].suppressed, 0);

    clock.now += REFUSAL_LOG_INTERVAL_MS;
    await flooder.puback(flooder.publish(uplinkTopic("s-1"), MALFORMED));
    const all = warnings(lines, "refused publish from s-1:");
    assert.is(all.length, 2);
    assert.is(all[1].suppressed, 499);
    assert.match(String(all[1].msg), /\(499 more like this since the last such line\)$/);
    assert.is(all.length + sum(all, "suppressed"), 501, "lines and their counts add up to the refusals");
    assert.is(gateway.stats().ingest.refused, 502);
    assert.ok(flooder.connected && other.connected && good.connected);
    await Promise.all([flooder.end(), other.end(), good.end()]);
  });
});

/** A CONNECT the gateway refuses; resolves once the connection is closed. */
async function refusedConnect(gateway: Gateway, clientId: string, credentials: Credentials): Promise<number> {
  const { client, returnCode } = await TestMqttClient.attempt(connect(gateway.mqttPort!, "127.0.0.1"), "connect", clientId, credentials);
  await within(`${clientId} to be disconnected`, client.closed);
  return returnCode;
}

test("CONNECTs with a wrong secret in a loop, and from ever new client ids: every one counted, the lines bounded", async () => {
  await withGateway(async (gateway, lines, clock) => {
    const wrong = { username: "s-1", password: "not-the-secret" };
    for (let i = 0; i < 50; i++) assert.is(await refusedConnect(gateway, "s-1", wrong), 4);
    assert.is(await refusedConnect(gateway, "s-2", { username: "s-2", password: "not-the-secret" }), 4);
    const good = await TestMqttClient.connect(gateway.mqttPort!, "s-3", as("s-3"));
    await good.puback(good.publish(uplinkTopic("s-3"), obsPayload("s-3", 1)));
    assert.ok(gateway.store.find("s-3", 1), "a device with the right secret connects and is served meanwhile");
    const loop = warnings(lines, `refused CONNECT from client "s-1"`);
    assert.is(loop.length, 1, "the loop wrote one line");
    assert.is(loop[0].msg, `refused CONNECT from client "s-1": wrong secret for sensor "s-1"`);
    assert.equal([loop[0].reason, loop[0].returnCode, loop[0].suppressed], ["bad-secret", 4, 0]);
    assert.is(warnings(lines, `refused CONNECT from client "s-2"`).length, 1, "another client's first refusal is logged at once");

    // A script that picks a new id for every attempt: every key is new, so the overall limit holds.
    for (let i = 0; i < 30; i++) assert.is(await refusedConnect(gateway, `random-${i}`, { username: `random-${i}`, password: "not-the-secret" }), 5);
    assert.is(warnings(lines, "refused CONNECT").length, MAX_REFUSAL_LINES_PER_INTERVAL);

    clock.now += REFUSAL_LOG_INTERVAL_MS;
    assert.is(await refusedConnect(gateway, "s-1", wrong), 4);
    const summary = warnings(lines, "12 refusals not logged");
    assert.is(summary.length, 1, "the refusals the overall limit left out are summed on a line of their own");
    assert.is(summary[0].unlogged, 12);
    const refused = warnings(lines, "refused CONNECT");
    assert.is(refused.at(-1)?.msg, `refused CONNECT from client "s-1": wrong secret for sensor "s-1" (49 more like this since the last such line)`);
    const attempts = 50 + 1 + 30 + 1;
    assert.is(gateway.stats().auth.badSecret + gateway.stats().auth.unregistered, attempts);
    assert.is(refused.length + sum(refused, "suppressed") + sum(lines, "unlogged"), attempts, "lines and their counts add up to the refusals");
    assert.is(warnings(lines, "client ").filter((l) => / dropped: /.test(String(l.msg))).length, 0, "a refused CONNECT is not logged again as a dropped client");
    assert.ok(good.connected);
    await good.end();
  });
});

test("a subscribe loop and connections that send garbage instead of CONNECT: one line each, then the count", async () => {
  await withGateway(async (gateway, lines, clock) => {
    const device = await TestMqttClient.connect(gateway.mqttPort!, "s-1", as("s-1"));
    for (let i = 1; i <= 20; i++) {
      device.send({ cmd: "subscribe", messageId: i, subscriptions: [{ topic: "xsedge/#", qos: 1 }] });
      const suback = await device.waitFor(`SUBACK ${i}`, (p) => p.cmd === "suback" && p.messageId === i);
      assert.equal(suback.cmd === "suback" && suback.granted, [128], "each is denied");
    }
    for (let i = 0; i < 20; i++) {
      const socket = connect(gateway.mqttPort!, "127.0.0.1");
      socket.on("error", () => {});
      socket.end("GET / HTTP/1.1\r\n\r\n");
      await within("the garbage connection to close", new Promise((resolve) => socket.once("close", resolve)));
    }
    assert.is(warnings(lines, "subscribe denied for s-1").length, 1);
    // "G" is no CONNECT's first byte: each is closed on it, one line for all.
    assert.is(warnings(lines, "closing a connection from 127.0.0.1: its first packet is of type 4, not CONNECT").length, 1);

    clock.now += REFUSAL_LOG_INTERVAL_MS;
    device.send({ cmd: "subscribe", messageId: 21, subscriptions: [{ topic: "xsedge/#", qos: 1 }] });
    await device.waitFor("SUBACK 21", (p) => p.cmd === "suback" && p.messageId === 21);
    const denied = warnings(lines, "subscribe denied for s-1");
    assert.is(denied.length, 2);
    assert.is(denied[1].suppressed, 19);
    assert.ok(device.connected, "the device is still served");
    await device.end();
  });
});

test.run();
