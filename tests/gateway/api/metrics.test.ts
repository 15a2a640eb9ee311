import { test } from "uvu";
import * as assert from "uvu/assert";
import { uplinkTopic } from "../../../hosts/gateway/ingest/ingest.js";
import { GatewayMetrics, metricValues, type MetricSpec } from "../../../hosts/gateway/api/metrics.js";
import { startApiGateway } from "../../support/gateway-api.js";
import { waitFor } from "../../support/test-helpers.js";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition (0.0.4), failing on any line that is not a comment or a sample. */
function parsePrometheus(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1], type[2]);
      continue;
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$/.test(line)) continue;
    // Values as Go's ParseFloat reads them, which is case-insensitive (prom-client writes NaN as "Nan").
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|[Nn][Aa][Nn]|[+-]?[Ii]nf)$/.exec(line);
    if (!sample) throw new Error(`not Prometheus text: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (sample[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[key] = value;
    samples.push({ name: sample[1], labels, value: Number(sample[3]) });
  }
  return { samples, types };
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

test("/metrics is Prometheus text with the gateway's counters matching what was published, and process metrics", async () => {
  const t = await startApiGateway(["s-1", "s-2"]);
  try {
    const one = await t.device("s-1");
    await t.publish(one, [1, 2, 3]);
    await t.publish(await t.device("s-2"), [1]);
    await t.publish(one, [2]); // a retry: duplicate
    await one.puback(one.publish(uplinkTopic("s-1"), new Uint8Array([0xff]))); // refused: malformed
    await waitFor("the relay to drain", () => t.gateway.stats().relay.backlog === 0);
    const response = await fetch(`${t.base}/metrics`);
    assert.is(response.status, 200);
    assert.match(String(response.headers.get("content-type")), /^text\/plain; version=0\.0\.4/);
    const { samples, types } = parsePrometheus(await response.text());
    assert.is(value(samples, "xsedge_ingest_stored_total"), 4);
    assert.is(value(samples, "xsedge_ingest_duplicate_total"), 1);
    assert.is(value(samples, "xsedge_ingest_refused_total"), 1);
    assert.is(value(samples, "xsedge_ingest_refused_by_reason_total", { reason: "malformed" }), 1);
    assert.is(value(samples, "xsedge_ingest_refused_by_reason_total", { reason: "bad-topic" }), 0);
    assert.is(value(samples, "xsedge_store_observations"), 4);
    assert.is(value(samples, "xsedge_store_rejected"), 1);
    assert.is(value(samples, "xsedge_store_unrelayed"), 0);
    assert.is(value(samples, "xsedge_relay_relayed_total"), 4);
    assert.is(value(samples, "xsedge_relay_state", { state: "idle" }), 1);
    assert.is(value(samples, "xsedge_mqtt_clients"), 2);
    assert.is(value(samples, "xsedge_http_sse_clients"), 0);
    assert.is(types.get("xsedge_ingest_stored_total"), "counter");
    assert.is(types.get("xsedge_store_observations"), "gauge");
    assert.ok((value(samples, "process_resident_memory_bytes") ?? 0) > 0, "prom-client's process metrics");
    assert.ok(types.has("nodejs_eventloop_lag_seconds"));
  } finally {
    await t.done();
  }
});

test("a metric is one table row: a path into the stats, a name, a kind; objects become labelled series", async () => {
  const specs: MetricSpec[] = [
    { path: "outbox.dropped", name: "x_outbox_dropped_total", kind: "counter", help: "Dropped." },
    { path: "auth.refused", name: "x_auth_refused_total", kind: "counter", help: "By reason.", label: "reason" },
    { path: "relay.state", name: "x_relay_state", kind: "gauge", help: "Phase.", label: "state" },
    { path: "store.rows", name: "x_store_rows", kind: "gauge", help: "Rows." },
  ];
  const snapshot = { outbox: { dropped: 7 }, auth: { refused: { "bad-secret": 2, unregistered: 1 } }, relay: { state: "sending" }, store: { rows: -1 } };
  const metrics = new GatewayMetrics(() => snapshot, specs);
  const { samples } = parsePrometheus(await metrics.text());
  assert.is(value(samples, "x_outbox_dropped_total"), 7);
  assert.is(value(samples, "x_auth_refused_total", { reason: "bad-secret" }), 2);
  assert.is(value(samples, "x_auth_refused_total", { reason: "unregistered" }), 1);
  assert.is(value(samples, "x_relay_state", { state: "sending" }), 1);
  assert.is(value(samples, "x_store_rows"), -1, "a gauge may be negative");
  snapshot.outbox.dropped = 9;
  assert.is(value(parsePrometheus(await metrics.text()).samples, "x_outbox_dropped_total"), 9, "each scrape reads a fresh snapshot");
});

test("metricValues yields nothing for a missing path, a non-number, or a negative counter", () => {
  const counter: MetricSpec = { path: "a.b", name: "n", kind: "counter", help: "h" };
  assert.equal(metricValues({}, counter), []);
  assert.equal(metricValues({ a: null }, counter), []);
  assert.equal(metricValues({ a: { b: "x" } }, counter), []);
  assert.equal(metricValues({ a: { b: -1 } }, counter), []);
  assert.equal(metricValues({ a: { b: Number.NaN } }, counter), []);
  assert.equal(metricValues({ a: { b: 3 } }, counter), [{ labels: {}, value: 3 }]);
  assert.equal(metricValues({ a: { b: { x: 1, y: "no" } } }, { ...counter, label: "k" }), [{ labels: { k: "x" }, value: 1 }]);
});

test.run();
