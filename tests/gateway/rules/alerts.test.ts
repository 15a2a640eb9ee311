/*
 * Alert sinks, through real receivers on loopback: each alert reaches the
 * webhook (retried with backoff through failures, a refusal skipped), an
 * MQTT broker (QoS 1, aedes) and the SSE stream (resumable), at least once
 * and with its idempotency key; alerts raised while a sink is down wait in
 * the outbox in SQLite, across a restart.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createServer, type Server } from "node:http";
import { createServer as createTcpServer } from "node:net";
import type { AddressInfo } from "node:net";
import { Aedes } from "aedes";
import mqtt from "mqtt";
import { SseReader } from "../../support/cloud-sse.js";
import { exampleSource, RULE_WAIT_MS, startRulesGateway, type RulesGateway } from "../../support/rules-gateway.js";
import { tempDir, waitFor } from "../../support/test-helpers.js";

const freezer = exampleSource("freezer-alarm");
const cold = { quantity: "temperature" as const, value: -20 };
const warm = { quantity: "temperature" as const, value: -10 };

interface Hook {
  url: string;
  posts: { key: string; body: any }[];
  /** Status codes to answer with, in order; 204 once they run out. */
  answers: number[];
  server: Server;
  close(): Promise<void>;
}

async function webhook(port = 0): Promise<Hook> {
  const hook = { posts: [] as { key: string; body: any }[], answers: [] as number[] } as Hook;
  hook.server = createServer(async (req, res) => {
    let text = "";
    for await (const chunk of req) text += chunk;
    hook.posts.push({ key: String(req.headers["idempotency-key"]), body: JSON.parse(text) });
    res.writeHead(hook.answers.shift() ?? 204).end();
  });
  await new Promise<void>((resolve) => hook.server.listen(port, "127.0.0.1", resolve));
  hook.url = `http://127.0.0.1:${(hook.server.address() as AddressInfo).port}/hook`;
  hook.close = () => new Promise((resolve) => {
    hook.server.closeAllConnections();
    hook.server.close(() => resolve());
  });
  return hook;
}

/** Alternating warm and cold samples: each one flips the freezer alarm. */
async function flips(t: RulesGateway, from: number, count: number): Promise<void> {
  const device = await t.device("freezer-1");
  for (let seq = from; seq < from + count; seq++) await t.publish(device, seq, [seq % 2 === 1 ? warm : cold]);
  await t.caughtUp("freezer-alarm");
}

test("webhook: a failing receiver is retried with backoff until it takes the alert, with the same idempotency key; one it refuses for good is skipped", async () => {
  const hook = await webhook();
  hook.answers = [503, 500, 204, 400];
  const t = await startRulesGateway(["freezer-1"], { rules: { alerts: { webhook: { url: hook.url, token: "hook-token" } } } });
  try {
    assert.is((await t.deploy(freezer, "freezer-alarm.ts")).status, 201);
    await flips(t, 1, 3);
    // 1st alert: 503, 500, then 204. 2nd: 400, refused and skipped. 3rd: 204.
    await waitFor("the webhook to be done", () => hook.posts.length === 5, RULE_WAIT_MS);
    assert.equal(hook.posts.map((p) => p.key), [
      "freezer-alarm/1/warm:freezer-1", "freezer-alarm/1/warm:freezer-1", "freezer-alarm/1/warm:freezer-1",
      "freezer-alarm/2/warm:freezer-1", "freezer-alarm/3/warm:freezer-1",
    ]);
    assert.equal(hook.posts.map((p) => p.body.state), ["raised", "raised", "raised", "cleared", "raised"]);
    const sink = await waitFor("the sink's figures", () => {
      const stats = t.gateway.stats().alertSinks!.webhook;
      return stats.backlog === 0 && stats.delivered === 2 ? stats : undefined;
    }, RULE_WAIT_MS);
    assert.equal([sink.delivered, sink.failures, sink.refused], [2, 2, 1]);
    const logged = t.logger.lines.map((l) => String(l.msg)).join("\n");
    assert.match(logged, /alert freezer-alarm\/2\/warm:freezer-1 refused by the webhook sink/, logged);
    assert.not.match(JSON.stringify(t.logger.lines), /hook-token/, "the token is never logged");
    const metrics = await (await fetch(`${t.base}/metrics`)).text();
    assert.match(metrics, /xsedge_alert_webhook_refused_total 1/);
    assert.match(metrics, /xsedge_rule_alerts_total\{rule="freezer-alarm"\} 3/);
  } finally {
    await t.done();
    await hook.close();
  }
});

test("alerts raised while the webhook is down wait in the outbox, across a restart, and are delivered once it is back", async () => {
  const dir = tempDir("rules-alerts");
  const down = await webhook();
  const port = Number(new URL(down.url).port);
  await down.close();
  try {
    const options = { rules: { alerts: { webhook: { url: `http://127.0.0.1:${port}/hook` } } } };
    let t = await startRulesGateway(["freezer-1"], options, dir.path);
    assert.is((await t.deploy(freezer, "freezer-alarm.ts")).status, 201);
    await flips(t, 1, 4);
    await waitFor("a failed delivery", () => t.gateway.stats().alertSinks!.webhook.failures > 0, RULE_WAIT_MS);
    assert.is(t.gateway.stats().alertSinks!.webhook.backlog, 4);
    await t.done();
    const hook = await webhook(port);
    try {
      t = await startRulesGateway(["freezer-1"], options, dir.path);
      await waitFor("the four alerts after the restart", () => hook.posts.length >= 4, RULE_WAIT_MS);
      assert.equal(hook.posts.map((p) => p.body.state), ["raised", "cleared", "raised", "cleared"]);
      assert.equal(new Set(hook.posts.map((p) => p.key)).size, 4);
      await t.done();
    } finally {
      await hook.close();
    }
  } finally {
    dir.remove();
  }
});

test("MQTT: each alert is a QoS 1 publish of its JSON to <topic>/<rule>; SSE: the stream resumes from Last-Event-ID", async () => {
  const broker = await Aedes.createBroker();
  const server = createTcpServer((socket) => broker.handle(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const brokerUrl = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const subscriber = await mqtt.connectAsync(brokerUrl, { clientId: "alert-consumer" });
  const received: { topic: string; qos: number; body: any }[] = [];
  subscriber.on("message", (topic, payload, packet) => received.push({ topic, qos: packet.qos, body: JSON.parse(payload.toString()) }));
  await subscriber.subscribeAsync("site-7/alerts/#", { qos: 1 });
  const t = await startRulesGateway(["freezer-1"], { rules: { alerts: { mqtt: { url: brokerUrl, topic: "site-7/alerts" } } } });
  try {
    assert.is((await t.deploy(freezer, "freezer-alarm.ts")).status, 201);
    const stream = await SseReader.open(`${t.base}/api/v1/rules/alerts/stream`);
    await flips(t, 1, 3);
    await waitFor("three alerts at the broker", () => received.length === 3, RULE_WAIT_MS);
    assert.equal(received.map((r) => [r.topic, r.qos, r.body.state]), [
      ["site-7/alerts/freezer-alarm", 1, "raised"], ["site-7/alerts/freezer-alarm", 1, "cleared"], ["site-7/alerts/freezer-alarm", 1, "raised"],
    ]);
    assert.equal(received.map((r) => r.body.idempotencyKey), ["freezer-alarm/1/warm:freezer-1", "freezer-alarm/2/warm:freezer-1", "freezer-alarm/3/warm:freezer-1"]);
    const events = await stream.next(3);
    assert.equal(events.map((e) => JSON.parse(e.data).idempotencyKey), received.map((r) => r.body.idempotencyKey));
    stream.close();
    const resumed = await SseReader.open(`${t.base}/api/v1/rules/alerts/stream`, { "last-event-id": events[0].id! });
    assert.equal((await resumed.next(2)).map((e) => e.id), [events[1].id, events[2].id], "after the first, the second and third again");
    resumed.close();
    assert.equal(t.gateway.stats().alertSinks!.mqtt.delivered, 3);
  } finally {
    await t.done();
    await subscriber.endAsync();
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    server.close();
  }
});

test.run();
