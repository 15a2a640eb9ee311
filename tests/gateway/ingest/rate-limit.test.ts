import { test } from "uvu";
import * as assert from "uvu/assert";
import { uplinkTopic } from "../../../hosts/gateway/ingest/ingest.js";
import { memoryConnector } from "../../support/gateway-fakes.js";
import { obsPayload } from "../../support/gateway-records.js";
import { device, withOutboxGateway } from "../../support/outbox-gateway.js";
import { waitFor, within } from "../../support/test-helpers.js";

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);
const messages = (sensorId: string, seqs: number[]) => seqs.map((seq) => ({ topic: uplinkTopic(sensorId), payload: obsPayload(sensorId, seq) }));
const pubackIds = (client: { received: { cmd: string; messageId?: number }[] }) => client.received.filter((p) => p.cmd === "puback").map((p) => p.messageId!);

test("a flooding device is slowed, then refused and dropped (counted, logged once), while another device keeps being acknowledged", async () => {
  const options = { connector: memoryConnector(), rateLimitPerSecond: 20, rateLimitBurst: 5 };
  await withOutboxGateway(["flood", "calm"], options, async (gateway) => {
    const calm = await device(gateway.mqttPort!, "calm");
    const flood = await device(gateway.mqttPort!, "flood");
    // 500 publishes in one write: 5 pass on the burst, about 20 are delayed up to 1 s, the rest refused.
    const floodIds = flood.publishAll(messages("flood", range(1, 500)));
    await within("the flooding device to be dropped", flood.closed);
    for (const seq of range(1, 3)) await calm.puback(calm.publish(uplinkTopic("calm"), obsPayload("calm", seq)));
    assert.ok(calm.connected);

    // The burst's publishes, every delayed one, and calm's three all reach the queue.
    const stats = await waitFor("the delayed publishes to be committed", () => {
      const outbox = gateway.stats().outbox;
      return outbox.publishes >= 3 + 5 + outbox.rateLimited && outbox;
    });
    assert.ok(stats.rateLimited >= 1, "some publishes were delayed");
    assert.ok(stats.rateRefused >= 1, "some were refused");
    const floodStored = gateway.store.counts().observations - 3;
    assert.ok(floodStored <= 30, `${floodStored} of the flood's 500 stored: about a second's worth at 20/s plus the burst`);
    // Everything the flood got a PUBACK for is stored; refused publishes are not (the device keeps them).
    const acked = pubackIds(flood).map((id) => floodIds.indexOf(id) + 1);
    for (const seq of acked) assert.ok(gateway.store.find("flood", seq), `flood seq ${seq} acked but not stored`);
    assert.is(gateway.store.find("flood", 500), undefined);

    const refusals = gateway.logger.lines.filter((l) => /rate limit: refusing publishes from flood \(over 20 publishes\/s, burst 5/.test(String(l.msg)));
    assert.is(refusals.length, 1, "one line for the whole flood");
    const slowed = gateway.logger.lines.filter((l) => /rate limit: slowing flood down/.test(String(l.msg)));
    assert.is(slowed.length, 1);
    assert.not.ok(gateway.logger.lines.some((l) => /client flood dropped/.test(String(l.msg))), "the broker does not log each refusal again");

    // The flood reconnects and floods again: refused again, still within the one line per interval.
    const again = await device(gateway.mqttPort!, "flood");
    again.publishAll(messages("flood", range(1, 100)));
    await within("the flooding device to be dropped again", again.closed);
    assert.is(gateway.logger.lines.filter((l) => /rate limit: refusing publishes from flood/.test(String(l.msg))).length, 1);
    await calm.puback(calm.publish(uplinkTopic("calm"), obsPayload("calm", 4)));
    await calm.end();
  });
});

test("a device within its rate is delayed by nothing and refused nothing", async () => {
  const options = { connector: memoryConnector(), rateLimitPerSecond: 1000, rateLimitBurst: 50 };
  await withOutboxGateway(["s-1"], options, async (gateway) => {
    const client = await device(gateway.mqttPort!, "s-1");
    await client.puback(client.publishAll(messages("s-1", range(1, 50))).at(-1)!);
    assert.equal([gateway.stats().outbox.rateLimited, gateway.stats().outbox.rateRefused], [0, 0]);
    await client.end();
  });
});

test.run();
