import { test } from "uvu";
import * as assert from "uvu/assert";
import { uplinkTopic } from "../../../hosts/gateway/ingest/ingest.js";
import { obsPayload } from "../../support/gateway-records.js";
import { device, switchableConnector, withOutboxGateway } from "../../support/outbox-gateway.js";
import { waitFor, within } from "../../support/test-helpers.js";

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);
const messages = (sensorId: string, seqs: number[]) => seqs.map((seq) => ({ topic: uplinkTopic(sensorId), payload: obsPayload(sensorId, seq) }));
const pubacks = (client: { received: { cmd: string }[] }) => client.received.filter((p) => p.cmd === "puback").length;

test("over the high-water mark acks are held (bounded), and released once the relay drains below low water", async () => {
  const sensors = range(1, 8).map((n) => `s-${n}`);
  const connector = switchableConnector();
  const options = { connector, rateLimitPerSecond: Infinity, outboxHighWater: 10, outboxLowWater: 5, outboxMaxHeld: 50, relayBatchSize: 5 };
  await withOutboxGateway(sensors, options, async (gateway) => {
    const filler = await device(gateway.mqttPort!, "s-1");
    const ids = filler.publishAll(messages("s-1", range(1, 10)));
    await filler.puback(ids.at(-1)!);
    assert.is(gateway.stats().outbox.depth, 10);

    // Seven devices publish while the outbox is at its high-water mark: held, not acked, not stored.
    const others = await Promise.all(sensors.slice(1).map((s) => device(gateway.mqttPort!, s)));
    others.forEach((client, i) => client.publishAll(messages(sensors[i + 1], range(1, 5))));
    await waitFor("35 publishes held", () => gateway.stats().outbox.held === 35);
    assert.is(others.reduce((n, c) => n + pubacks(c), 0), 0, "no PUBACK while held");
    assert.is(gateway.stats().ingest.stored, 10, "held publishes are not committed");
    assert.is(gateway.stats().outbox.heldForBackpressure, 35);
    assert.ok(gateway.logger.lines.some((l) => l.level === "warn" && /outbox over high-water mark \(10 unrelayed\): holding/.test(String(l.msg))));

    connector.up = true;
    await waitFor("every held publish acked", () => others.every((c) => pubacks(c) === 5), 8000);
    assert.is(gateway.stats().outbox.held, 0);
    assert.is(gateway.stats().ingest.stored, 45);
    assert.ok(gateway.logger.lines.some((l) => /below low-water mark .* releasing 35 held publishes/.test(String(l.msg))));
    assert.ok(others.every((c) => c.connected));
    await waitFor("everything relayed", () => gateway.stats().outbox.depth === 0);
    await Promise.all([filler, ...others].map((c) => c.end()));
  });
});

test("past the hold bound a publish is refused: no PUBACK, its device dropped, counted and logged; nothing held is lost", async () => {
  const connector = switchableConnector();
  const options = { connector, rateLimitPerSecond: Infinity, outboxHighWater: 5, outboxMaxHeld: 3 };
  await withOutboxGateway(["s-1", "s-2", "s-3"], options, async (gateway) => {
    const filler = await device(gateway.mqttPort!, "s-1");
    await filler.puback(filler.publishAll(messages("s-1", range(1, 5))).at(-1)!);
    const held = await device(gateway.mqttPort!, "s-2");
    held.publishAll(messages("s-2", range(1, 3)));
    await waitFor("3 held", () => gateway.stats().outbox.held === 3);
    const late = await device(gateway.mqttPort!, "s-3");
    late.publish(uplinkTopic("s-3"), obsPayload("s-3", 1));
    await within("the refused device to be dropped", late.closed);
    assert.is(pubacks(late), 0);
    assert.is(gateway.stats().outbox.refusedForBackpressure, 1);
    assert.is(gateway.stats().outbox.held, 3, "memory stays bounded: held never exceeds the bound");
    assert.ok(gateway.logger.lines.some((l) => l.level === "warn" && /outbox over high-water mark \(5 unrelayed\): refusing publish from s-3: 3 publishes already held/.test(String(l.msg))));
    assert.is(gateway.store.find("s-3", 1), undefined);

    connector.up = true;
    await waitFor("the held ones acked", () => pubacks(held) === 3, 8000);
    assert.ok(gateway.store.find("s-2", 3));
    await filler.end();
    await held.end();
  });
});

test("a publish held longer than the max hold time is refused, and its device dropped without a PUBACK", async () => {
  const options = { connector: switchableConnector(), rateLimitPerSecond: Infinity, outboxHighWater: 2, outboxMaxHoldMs: 200 };
  await withOutboxGateway(["s-1", "s-2"], options, async (gateway) => {
    const filler = await device(gateway.mqttPort!, "s-1");
    await filler.puback(filler.publishAll(messages("s-1", range(1, 2))).at(-1)!);
    const waiting = await device(gateway.mqttPort!, "s-2");
    waiting.publish(uplinkTopic("s-2"), obsPayload("s-2", 1));
    await within("the held device to be dropped", waiting.closed);
    assert.is(pubacks(waiting), 0);
    assert.equal([gateway.stats().outbox.held, gateway.stats().outbox.refusedForBackpressure], [0, 1]);
    assert.ok(gateway.logger.lines.some((l) => /refusing publish from s-2: held for 200 ms/.test(String(l.msg))));
    await filler.end();
  });
});

test("closing the gateway ends holds: held publishes are not acknowledged, and the close does not wait for them", async () => {
  const dirOptions = { connector: switchableConnector(), rateLimitPerSecond: Infinity, outboxHighWater: 1 };
  let client: Awaited<ReturnType<typeof device>> | undefined;
  await withOutboxGateway(["s-1"], dirOptions, async (gateway) => {
    client = await device(gateway.mqttPort!, "s-1");
    await client.puback(client.publish(uplinkTopic("s-1"), obsPayload("s-1", 1)));
    client.publish(uplinkTopic("s-1"), obsPayload("s-1", 2));
    await waitFor("1 held", () => gateway.stats().outbox.held === 1);
  });
  await within("the client to be closed", client!.closed);
  assert.is(pubacks(client!), 1);
});

test.run();
