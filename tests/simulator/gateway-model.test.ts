/*
 * The gateway model of virtual time, through the links it serves, with
 * MQTT packets made and read by mqtt-packet: logins, commits before
 * acknowledgements, one row per (sensor, seq), refusals, backpressure, the
 * relay through a cloud outage, kills, keep-alive and takeovers.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import mqttPacket from "mqtt-packet";
import { BatchWriter } from "../../modules/observation/batch-writer.js";
import { StaticRegistry } from "../../hosts/gateway/ingest/sensor-registry.js";
import { VirtualDriver } from "../../simulator/fleet/virtual-driver.js";
import { CloudModel } from "../../simulator/gateway-model/cloud-model.js";
import { GatewayModel } from "../../simulator/gateway-model/gateway-model.js";
import { VirtualNetwork, type VirtualSession } from "../../simulator/network/virtual-network.js";
import { observation } from "../support/test-helpers.js";

function world(options: { highWater?: number } = {}) {
  const driver = new VirtualDriver({ lookaheadMs: 1 });
  const network = new VirtualNetwork(driver, { latencyMs: 1, jitterMs: 0, loss: 0, partitioned: false });
  const cloud = new CloudModel(driver, { latencyMs: 10 });
  const events: string[] = [];
  const registry = new StaticRegistry([{ sensorId: "g-1", secret: "secret-of-g-1" }, { sensorId: "g-2", secret: "secret-of-g-2" }]);
  const gateway = new GatewayModel({ driver, network, cloud, registry, highWater: options.highWater, onEvent: (_at, event) => events.push(event) });
  const run = (ms: number) => driver.runUntil(driver.now() + ms);
  return { driver, cloud, gateway, events, run };
}

/** One device's end of a link to the gateway: what the gateway sends it, parsed. */
function device(gateway: GatewayModel, peer = "g-1") {
  const received: mqttPacket.Packet[] = [];
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  parser.on("packet", (p: mqttPacket.Packet) => received.push(p));
  const state = { closed: false };
  const session: VirtualSession = gateway.accept({ peer, send: (bytes) => parser.parse(Buffer.from(bytes)), close: () => (state.closed = true) })!;
  const send = (packet: object) => session.data(new Uint8Array(mqttPacket.generate(packet as mqttPacket.Packet)));
  return {
    received, state, session, send,
    connect: (clientId: string, password: string, keepalive = 30) => send({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, clientId, username: clientId, password: Buffer.from(password), keepalive }),
    publish: (topic: string, payload: Uint8Array, messageId: number) => send({ cmd: "publish", topic, payload: Buffer.from(payload), qos: 1, messageId, retain: false, dup: false }),
  };
}

function batch(sensorId: string, seqs: number[]): Uint8Array {
  const writer = new BatchWriter();
  for (const seq of seqs) writer.add(observation(sensorId, seq));
  return writer.finish().slice();
}

const codes = (packets: mqttPacket.Packet[]) => packets.map((p) => (p.cmd === "connack" ? `connack ${(p as mqttPacket.IConnackPacket).returnCode}` : p.cmd === "puback" ? `puback ${(p as mqttPacket.IPubackPacket).messageId}` : p.cmd));

test("logins are checked against the registry: CONNACK 0, 5 for an unregistered sensor, 4 for a wrong secret, as the gateway answers", async () => {
  const w = world();
  const ok = device(w.gateway);
  ok.connect("g-1", "secret-of-g-1");
  const stranger = device(w.gateway, "x-1");
  stranger.connect("x-1", "secret-of-x-1");
  const wrong = device(w.gateway, "g-2");
  wrong.connect("g-2", "not-the-secret");
  await w.run(10);
  assert.equal([codes(ok.received), codes(stranger.received), codes(wrong.received)], [["connack 0"], ["connack 5"], ["connack 4"]]);
  assert.equal([ok.state.closed, stranger.state.closed, wrong.state.closed], [false, true, true]);
  assert.equal([w.gateway.stats.logins, w.gateway.stats.refusedLogins], [1, 2]);
  const early = device(w.gateway);
  early.publish("xsedge/v1/g-1/up", batch("g-1", [1]), 1);
  assert.ok(early.state.closed, "a PUBLISH before CONNECT closes the connection");
});

test("each observation is committed once per (sensor, seq) before its PUBACK; bad records and topics are refused and acknowledged", async () => {
  const w = world();
  const d = device(w.gateway);
  d.connect("g-1", "secret-of-g-1");
  d.publish("xsedge/v1/g-1/up", batch("g-1", [1, 2, 3]), 1);
  assert.equal(codes(d.received), ["connack 0"], "no PUBACK before the commit");
  assert.ok(w.gateway.holds("g-1", 2), "committed on arrival");
  await w.run(10);
  assert.equal(codes(d.received), ["connack 0", "puback 1"]);
  d.publish("xsedge/v1/g-1/up", batch("g-1", [3, 4]), 2);
  d.publish("xsedge/v1/g-1/up", Uint8Array.of(0xff, 0x00, 0x13), 3);
  d.publish("xsedge/v1/g-2/up", batch("g-1", [9]), 4);
  d.publish("xsedge/v1/g-1/up", batch("g-2", [9]), 5);
  await w.run(10);
  assert.equal(codes(d.received).slice(2), ["puback 2", "puback 3", "puback 4", "puback 5"]);
  assert.equal([w.gateway.stats.stored, w.gateway.stats.duplicates, w.gateway.stats.refused], [4, 1, 3]);
  assert.not.ok(w.gateway.holds("g-2", 9));
  await w.run(1000);
  assert.equal([...w.cloud.entries()].map((e) => e.seq).sort(), [1, 2, 3, 4]);
});

test("through a cloud outage the relay backs off and keeps every row; afterwards the backlog drains, each row once at the cloud", async () => {
  const w = world();
  const d = device(w.gateway);
  d.connect("g-1", "secret-of-g-1");
  w.cloud.setUp(false);
  for (let i = 0; i < 30; i++) d.publish("xsedge/v1/g-1/up", batch("g-1", [i * 10 + 1, i * 10 + 2]), i + 1);
  await w.run(60_000);
  assert.is(w.gateway.unrelayed, 60);
  assert.ok(w.gateway.stats.relayFailures >= 3, `${w.gateway.stats.relayFailures} failed relays in a minute`);
  assert.ok(w.gateway.stats.relayFailures < 20, "and it backed off");
  w.cloud.setUp(true);
  await w.run(15_000);
  assert.is(w.gateway.unrelayed, 0);
  assert.equal([w.cloud.stats.observations, w.cloud.stats.duplicates], [60, 0]);
});

test("above the high-water mark acknowledgements are held until the relay drains below the low-water mark", async () => {
  const w = world({ highWater: 3 });
  const d = device(w.gateway);
  d.connect("g-1", "secret-of-g-1");
  w.cloud.setUp(false);
  d.publish("xsedge/v1/g-1/up", batch("g-1", [1, 2]), 1);
  await w.run(100);
  d.publish("xsedge/v1/g-1/up", batch("g-1", [3, 4]), 2);
  await w.run(100);
  assert.equal(codes(d.received), ["connack 0", "puback 1"], "the second publish took the outbox past 3: its PUBACK waits");
  assert.is(w.gateway.stats.heldAcks, 1);
  w.cloud.setUp(true);
  await w.run(15_000);
  assert.equal(codes(d.received), ["connack 0", "puback 1", "puback 2"]);
});

test("a kill drops every connection and nothing committed; keep-alive closes a silent one; a new login of the same client takes over", async () => {
  const w = world();
  const d = device(w.gateway);
  d.connect("g-1", "secret-of-g-1", 10);
  d.publish("xsedge/v1/g-1/up", batch("g-1", [1]), 1);
  await w.run(10);
  w.cloud.setUp(false);
  w.gateway.stop("kill");
  assert.is(w.gateway.connections, 0);
  assert.is(w.gateway.accept({ peer: "g-1", send: () => {}, close: () => {} }), undefined, "nothing listens while it is down");
  w.gateway.start();
  w.cloud.setUp(true);
  await w.run(15_000);
  assert.ok(w.cloud.entry("g-1", 1), "what was committed before the kill reached the cloud after it");
  const silent = device(w.gateway);
  silent.connect("g-1", "secret-of-g-1", 10);
  await w.run(14_000);
  assert.not.ok(silent.state.closed, "within 1.5 × the keep-alive");
  await w.run(2_000);
  assert.ok(silent.state.closed, "silent past 1.5 × 10 s: closed");
  const first = device(w.gateway);
  first.connect("g-1", "secret-of-g-1");
  const second = device(w.gateway);
  second.connect("g-1", "secret-of-g-1");
  assert.equal([first.state.closed, second.state.closed], [true, false]);
  assert.is(w.gateway.stats.takeovers, 1);
  assert.ok(w.events.includes("gw.down") && w.events.includes("gw.up"));
});

test.run();
