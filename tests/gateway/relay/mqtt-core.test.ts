/*
 * The MQTT cloud connector's decisions, without a socket: the publish window
 * (in-flight limit, what counts as acknowledged when a batch ends early),
 * topics, payloads, broker URLs and refusal texts.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  connackRefusal, DEFAULT_TOPIC_TEMPLATE, disconnectReason, MqttOptionError, observationPayload, parseCloudBrokerUrl, parseTopicTemplate, pubackRefusal,
} from "../../../hosts/gateway/relay/connectors/mqtt-message.js";
import { PublishWindow } from "../../../hosts/gateway/relay/connectors/mqtt-publish-window.js";
import { observation } from "../../support/test-helpers.js";

test("the window keeps at most `limit` awaiting a PUBACK and refills as they are acked", () => {
  const window = new PublishWindow(5, 2);
  assert.equal(window.take(), [0, 1]);
  assert.equal(window.take(), [], "full");
  window.acked(1);
  assert.equal(window.take(), [2]);
  window.acked(0);
  window.acked(2);
  assert.equal(window.take(), [3, 4]);
  assert.not.ok(window.done);
  window.acked(4);
  window.acked(3);
  assert.ok(window.done);
  assert.equal(window.result(), { acked: [1, 0, 2, 4, 3], abandoned: 0, error: null });
});

test("an ack for an index not in flight (twice, or never sent) counts for nothing", () => {
  const window = new PublishWindow(3, 1);
  window.acked(2);
  assert.equal(window.take(), [0]);
  window.acked(0);
  window.acked(0);
  assert.equal(window.take(), [1]);
  assert.equal(window.result().acked, [0]);
});

test("a refusal is not an ack; the rest of the batch goes on and the error names the reason", () => {
  const window = new PublishWindow(3, 3);
  window.take();
  window.refused(1, pubackRefusal(0x87));
  window.acked(0);
  window.acked(2);
  assert.ok(window.done);
  const result = window.result();
  assert.equal(result.acked, [0, 2]);
  assert.is(result.error, "1 of 3 refused by the broker: not authorized (PUBACK reason 0x87)");
});

test("a timeout ends the batch: in flight is abandoned, nothing more is taken, a late PUBACK is ignored", () => {
  const window = new PublishWindow(10, 3);
  window.take();
  window.acked(0);
  window.end({ kind: "timeout", index: 1, afterMs: 250 });
  assert.ok(window.done);
  assert.equal(window.take(), []);
  assert.not.ok(window.awaiting(2));
  window.acked(2);
  const result = window.result();
  assert.equal(result.acked, [0]);
  assert.is(result.abandoned, 2);
  assert.match(String(result.error), /no PUBACK within 250 ms for observation 2 of 10/);
});

test("a lost connection ends the batch with its reason; a second end keeps the first", () => {
  const window = new PublishWindow(4, 4);
  window.take();
  window.acked(3);
  window.end({ kind: "lost", reason: "connection to mqtt://x lost: ECONNRESET" });
  window.end({ kind: "lost", reason: "connector closed" });
  assert.equal(window.result(), { acked: [3], abandoned: 3, error: "connection to mqtt://x lost: ECONNRESET" });
});

test("a window limit below 1 is refused", () => {
  assert.throws(() => new PublishWindow(1, 0), /positive integer/);
});

test("topics: the default template, a custom one, and what cannot be a topic", () => {
  assert.is(parseTopicTemplate(DEFAULT_TOPIC_TEMPLATE, "gw-1").topicFor("s-1"), "xsedge/v1/gw-1/observations/s-1");
  assert.is(parseTopicTemplate("dt/{gatewayId}/{sensorId}/temp", "pi").topicFor("a.b:c"), "dt/pi/a.b:c/temp");
  assert.is(parseTopicTemplate("all/observations", "pi").topicFor("s"), "all/observations", "one topic for every sensor is allowed");
  assert.throws(() => parseTopicTemplate("x/{sensor}", "gw"), (e: Error) => e instanceof MqttOptionError && /unknown placeholder \{sensor\}/.test(e.message));
  assert.throws(() => parseTopicTemplate("x/+/{sensorId}", "gw"), /without wildcards/);
  assert.throws(() => parseTopicTemplate("", "gw"), /non-empty/);
  assert.throws(() => parseTopicTemplate(DEFAULT_TOPIC_TEMPLATE, "a/b"), /gatewayId must be non-empty without/);
  assert.throws(() => parseTopicTemplate(DEFAULT_TOPIC_TEMPLATE, "#"), /gatewayId/);
  assert.throws(() => parseTopicTemplate("x/".repeat(40_000), "gw"), /longer than MQTT's 65535 bytes/);
  const topics = parseTopicTemplate(DEFAULT_TOPIC_TEMPLATE, "gw");
  assert.throws(() => topics.topicFor("s/+"), /sensor id "s\/\+" cannot be a topic level/);
});

test("the payload is the observation's JSON, as one element of the HTTP connector's array", () => {
  const relayed = { ...observation("s-1", 7, 19.25), time: 1_795_000_000_000, timeSource: "device" as const, receivedAt: 1_795_000_000_100 };
  const text = observationPayload(relayed);
  assert.equal(JSON.parse(text), JSON.parse(JSON.stringify({ observations: [relayed] })).observations[0]);
  assert.equal([JSON.parse(text).sensorId, JSON.parse(text).seq], ["s-1", 7], "sensorId and seq, for consumers to drop duplicates");
});

test("broker URLs: credentials are split off and never shown; other schemes are refused", () => {
  const url = parseCloudBrokerUrl("mqtts://gw%40site:p%3Ass@broker.example:8883");
  assert.equal([url.username, url.password, url.secure], ["gw@site", "p:ss", true]);
  assert.not.ok(url.shown.includes("p%3Ass") || url.shown.includes("p:ss"));
  assert.not.ok(url.url.includes("gw%40site"));
  assert.is(parseCloudBrokerUrl("mqtt://127.0.0.1:1883").secure, false);
  assert.throws(() => parseCloudBrokerUrl("http://broker:80"), /protocol must be mqtt: or mqtts:, got http:/);
  assert.throws(() => parseCloudBrokerUrl("not a url secret"), (e: Error) => /not a URL/.test(e.message) && !e.message.includes("secret"));
});

test("refusal codes in words, MQTT 3.1.1 and 5", () => {
  assert.is(connackRefusal(4, 4), "bad user name or password (CONNACK return code 4)");
  assert.is(connackRefusal(5, 4), "not authorized (CONNACK return code 5)");
  assert.is(connackRefusal(0x86, 5), "bad user name or password (CONNACK reason 0x86)");
  assert.is(connackRefusal(0x99, 4), "unknown code (CONNACK return code 153)");
  assert.is(pubackRefusal(0x97), "quota exceeded (PUBACK reason 0x97)");
  assert.is(disconnectReason(0x8b), "server shutting down (DISCONNECT reason 0x8b)");
  assert.is(disconnectReason(0), "normal disconnection (DISCONNECT reason 0x0)");
});

test.run();
