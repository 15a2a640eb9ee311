/*
 * The alert stream's bounds, through real HTTP: at most
 * http.sse.maxClientsPerAddress streams from one address (429 beyond) and
 * MAX_ALERT_STREAMS in all (503 with Retry-After beyond), refused before a
 * session exists, counted in /metrics; a place freed is taken again, and the
 * observation stream's places are its own.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { MAX_ALERT_STREAMS } from "../../../hosts/gateway/api/alert-stream.js";
import { startRulesGateway } from "../../support/rules-gateway.js";
import { SseReader } from "../../support/cloud-sse.js";
import { waitFor } from "../../support/test-helpers.js";

async function bodyOf(reader: SseReader): Promise<string> {
  let text = "";
  reader.response.setEncoding("utf8");
  for await (const chunk of reader.response) text += chunk;
  return text;
}

test("one address: its share of alert streams, then 429; a closed stream's place is free again; observation streams are admitted apart", async () => {
  const t = await startRulesGateway([], { sseLimits: { maxClientsPerAddress: 2 } });
  const open: SseReader[] = [];
  try {
    const url = `${t.base}/api/v1/rules/alerts/stream`;
    for (let i = 0; i < 2; i++) open.push(await SseReader.open(url));
    for (const reader of open) assert.is(reader.response.statusCode, 200);
    const refused = await SseReader.open(url);
    assert.is(refused.response.statusCode, 429);
    assert.match(JSON.parse(await bodyOf(refused)).error, /alert streams: this address holds its 2 event streams/);
    const observations = await SseReader.open(`${t.base}/api/v1/observations/stream`);
    assert.is(observations.response.statusCode, 200, "the observation stream has places of its own");
    open.push(observations);
    open.shift()!.close();
    await waitFor("the closed stream's place to be released", () => t.gateway.stats().http.alertStreams.clients === 1);
    const again = await SseReader.open(url);
    open.push(again);
    assert.is(again.response.statusCode, 200);
    const metrics = await (await fetch(`${t.base}/metrics`)).text();
    assert.ok(metrics.includes('xsedge_http_alert_streams_refused_total{limit="maxClientsPerAddress"} 1'), metrics.split("\n").filter((l) => l.includes("alert_streams")).join("\n"));
    assert.ok(metrics.includes("xsedge_http_alert_streams 2"));
  } finally {
    for (const reader of open) reader.close();
    await t.done();
  }
});

test(`in all: at most ${MAX_ALERT_STREAMS} alert streams, however many the observation stream may have; then 503 with Retry-After`, async () => {
  const t = await startRulesGateway([], { sseLimits: { maxClients: 64, maxClientsPerAddress: 64 } });
  const open: SseReader[] = [];
  try {
    const url = `${t.base}/api/v1/rules/alerts/stream`;
    for (let i = 0; i < MAX_ALERT_STREAMS; i++) open.push(await SseReader.open(url));
    assert.ok(open.every((reader) => reader.response.statusCode === 200));
    const refused = await SseReader.open(url);
    assert.is(refused.response.statusCode, 503);
    assert.is(refused.response.headers["retry-after"], "10");
    assert.match(JSON.parse(await bodyOf(refused)).error, new RegExp(`holds its ${MAX_ALERT_STREAMS} event streams`));
    assert.equal(t.gateway.stats().http.alertStreams.refused, { maxClients: 1, maxClientsPerAddress: 0 });
  } finally {
    for (const reader of open) reader.close();
    await t.done();
  }
});

test.run();
