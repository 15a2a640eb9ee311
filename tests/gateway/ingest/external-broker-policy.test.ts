/*
 * The external-broker ingest's decisions, without a broker: URL handling,
 * reconnect backoff, topic parsing, and which outcomes are acknowledged.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  ackDecision, ingestClientId, parseBrokerUrl, reconnectDelayMs, RECONNECT_INITIAL_MS, RECONNECT_MAX_MS, topicSensorId,
} from "../../../hosts/gateway/ingest/external-broker-policy.js";
import { observation } from "../../support/test-helpers.js";

test("parseBrokerUrl splits the credentials off and shows the URL without the password", () => {
  const parsed = parseBrokerUrl("mqtts://gw:s%3Acret@broker.lan:8883");
  assert.equal(parsed, { url: "mqtts://broker.lan:8883", shown: "mqtts://gw@broker.lan:8883", username: "gw", password: "s:cret" });
  assert.equal(parseBrokerUrl("mqtt://127.0.0.1:1883"), { url: "mqtt://127.0.0.1:1883", shown: "mqtt://127.0.0.1:1883", username: undefined, password: undefined });
});

test("parseBrokerUrl refuses other protocols and non-URLs, naming the option and never echoing the text", () => {
  assert.throws(() => parseBrokerUrl("http://broker:1883"), /externalBroker\.url: protocol must be mqtt: or mqtts:, got http:/);
  try {
    parseBrokerUrl("mqtt://gw:hunter2@[broken");
    assert.unreachable("parsed a non-URL");
  } catch (e) {
    assert.match((e as Error).message, "externalBroker.url: not a URL");
    assert.not.match((e as Error).message, "hunter2");
  }
});

test("reconnect delays double from the initial one and stop at the cap", () => {
  assert.equal([0, 1, 2, 3, 4].map((n) => reconnectDelayMs(n, 100, 1000)), [100, 200, 400, 800, 1000]);
  assert.is(reconnectDelayMs(0), RECONNECT_INITIAL_MS);
  assert.is(reconnectDelayMs(10_000), RECONNECT_MAX_MS);
});

test("topicSensorId reads the sensor of an uplink topic and nothing else", () => {
  assert.is(topicSensorId("xsedge/v1/greenhouse-7/up"), "greenhouse-7");
  for (const topic of ["xsedge/v1//up", "xsedge/v1/s/down", "xsedge/v2/s/up", "xsedge/v1/s/up/more", "other"]) {
    assert.is(topicSensorId(topic), undefined, topic);
  }
  assert.is(ingestClientId("s-1"), "ext:s-1");
  assert.is(ingestClientId(undefined), "ext");
});

test("everything committed is acknowledged, refusals included; only a failed commit is withheld", () => {
  const obs = { ...observation("s-1", 1) };
  assert.is(ackDecision({ kind: "stored", observation: obs }), "ack");
  assert.is(ackDecision({ kind: "duplicate", observation: obs }), "ack");
  assert.is(ackDecision({ kind: "batch", stored: 2, duplicate: 0, conflicts: 1 }), "ack");
  assert.is(ackDecision({ kind: "refused", reason: "malformed", field: "record", detail: "not CBOR" }), "ack");
  assert.is(ackDecision({ kind: "unregistered", sensorId: "x" }), "ack");
  assert.is(ackDecision({ kind: "failed", error: new Error("disk full") }), "withhold");
});

test.run();
