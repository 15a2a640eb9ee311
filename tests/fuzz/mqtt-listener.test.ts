/*
 * The gateway's MQTT listener fuzzed over a real socket: sessions of
 * generated, mutated and random packets, logged in or not, cut into random
 * writes. Only the socket is used (whichever listener the gateway runs), so
 * this survives a rewrite of it. Every session:
 * - everything the listener sends back is well-formed MQTT a server may send;
 * - a whole CONNECT is answered, and once accepted each QoS 1 PUBLISH, or
 *   the connection is closed (no hang);
 * - it closes the connection (within a bound) where the protocol says so:
 *   malformed bytes, a first packet that is not CONNECT, a second CONNECT, a
 *   refused CONNECT;
 * - once the client closes its side, the listener closes too (no hang);
 * and throughout: honest devices keep being served (a probe publishes and
 * gets its PUBACK for a stored row every few sessions), no connection is
 * left behind, and the heap stays bounded.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import mqtt, { type Packet } from "mqtt-packet";
import { connect, type Socket } from "node:net";
import { startGateway, type Gateway } from "../../hosts/gateway/gateway.js";
import { uplinkTopic } from "../../hosts/gateway/ingest/ingest.js";
import { StaticRegistry } from "../../hosts/gateway/ingest/sensor-registry.js";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import { encodeObservation } from "../../modules/observation/record.js";
import { fuzz, summary } from "../support/fuzz.js";
import { memoryConnector } from "../support/gateway-fakes.js";
import { TestMqttClient } from "../support/gateway-mqtt-client.js";
import { oracle, session, sessionBytes, sessionExamples, type Login, type Session } from "../support/mqtt-arbitraries.js";
import { observation, tempDir, waitFor, within } from "../support/test-helpers.js";

const FUZZED: Login = { sensorId: "fz-1", secret: "fz-secret-0123456789" };
const PROBE: Login = { sensorId: "probe-1", secret: "probe-secret-0123456789" };
/** Packets a server may send a client. */
const FROM_SERVER = new Set(["connack", "puback", "pubrec", "pubrel", "pubcomp", "suback", "unsuback", "pingresp", "publish", "disconnect"]);
/** How long the listener may take to close a connection the protocol says it must close. */
const CLOSE_WITHIN_MS = 1500;
/** How long a CONNACK and the PUBACKs of a session may take (PUBACKs wait for a group commit). */
const ANSWER_WITHIN_MS = 3000;
const PROBE_EVERY = 15;

interface Reply {
  packets: Packet[];
  malformed?: string;
  closed: Promise<void>;
  isClosed(): boolean;
}

function open(port: number): Promise<{ socket: Socket; reply: Reply }> {
  return within("a connection to the listener", new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const parser = mqtt.parser({ protocolVersion: 4 });
    let closed = false;
    const reply: Reply = {
      packets: [],
      closed: new Promise((r) => socket.once("close", () => { closed = true; r(); })),
      isClosed: () => closed,
    };
    parser.on("packet", (p: Packet) => reply.packets.push(p));
    parser.on("error", (e: Error) => (reply.malformed ??= e.message));
    socket.on("data", (data) => parser.parse(data));
    // Writes after the listener closed fail with EPIPE or ECONNRESET: expected here.
    socket.on("error", () => {});
    socket.once("connect", () => resolve({ socket, reply }));
    socket.once("error", reject);
  }));
}

/** Why the listener must close this session's connection, or undefined when it may keep it. */
function mustClose(sent: ReturnType<typeof oracle>, reply: Reply): string | undefined {
  if (sent.malformed) return `malformed input (${sent.malformed})`;
  const [first, ...rest] = sent.packets;
  if (first && first.cmd !== "connect") return `a first packet that is ${first.cmd}, not connect`;
  if (rest.some((p) => p.cmd === "connect")) return "a second CONNECT";
  if (rest.some((p) => p.cmd === "disconnect")) return "a DISCONNECT";
  // mqtt-packet reads these; the protocol calls them a violation [MQTT-3.8.3-3] [MQTT-3.10.3-2].
  if (rest.some((p) => (p.cmd === "subscribe" && p.subscriptions.length === 0) || (p.cmd === "unsubscribe" && p.unsubscriptions.length === 0))) return "a SUBSCRIBE or UNSUBSCRIBE without a topic filter";
  const refused = reply.packets.find((p) => p.cmd === "connack" && (p.returnCode ?? 0) !== 0);
  if (refused && refused.cmd === "connack") return `a refused CONNECT (CONNACK ${refused.returnCode})`;
  return undefined;
}

/** What the sessions reached (sessionExamples reach each at least once), so the property cannot pass by never getting past the first byte. */
const reached = { malformed: 0, refusedConnect: 0, accepted: 0, pubacks: 0, otherCloses: 0 };

async function play(port: number, s: Session): Promise<void> {
  const bytes = sessionBytes(s, FUZZED);
  const { socket, reply } = await open(port);
  for (let at = 0, i = 0; at < bytes.length && !reply.isClosed(); i++) {
    const size = s.writeSizes[i % s.writeSizes.length];
    socket.write(bytes.subarray(at, at + size));
    at += size;
    await new Promise((r) => setImmediate(r));
  }
  const sent = oracle(bytes);
  await answered(sent, reply);
  const why = mustClose(sent, reply);
  if (sent.malformed) reached.malformed++;
  else if (why?.startsWith("a refused")) reached.refusedConnect++;
  else if (why) reached.otherCloses++;
  if (reply.packets.some((p) => p.cmd === "connack" && (p.returnCode ?? 0) === 0)) reached.accepted++;
  if (reply.packets.some((p) => p.cmd === "puback")) reached.pubacks++;
  if (why) {
    const closedInTime = await Promise.race([reply.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), CLOSE_WITHIN_MS))]);
    assert.ok(closedInTime, `the listener kept the connection open ${CLOSE_WITHIN_MS} ms after ${why}`);
  }
  socket.end();
  await within("the listener to close once the client has", reply.closed, 3000);
  assert.is(reply.malformed, undefined, "the listener sent bytes that are not MQTT");
  for (const p of reply.packets) assert.ok(FROM_SERVER.has(p.cmd), `the listener sent a ${p.cmd} packet`);
}

/**
 * Waits until the listener has answered what the protocol says it must, or
 * closed: a whole CONNECT gets a CONNACK; once accepted, each QoS 1 PUBLISH
 * its PUBACK (after its group commit, which a loaded machine may take a
 * while over). An answer missing past ANSWER_WITHIN_MS with the connection
 * still open is a hang.
 */
async function answered(sent: ReturnType<typeof oracle>, reply: Reply): Promise<void> {
  const [first, ...rest] = sent.packets;
  if (first?.cmd !== "connect") return void (await Promise.race([reply.closed, new Promise((r) => setTimeout(r, 20))]));
  const qos1 = rest.filter((p) => p.cmd === "publish" && p.qos === 1).length;
  const done = () => {
    if (reply.isClosed()) return true;
    const connack = reply.packets.find((p) => p.cmd === "connack");
    if (!connack || connack.cmd !== "connack") return false;
    return (connack.returnCode ?? 0) !== 0 || reply.packets.filter((p) => p.cmd === "puback").length >= qos1;
  };
  const deadline = Date.now() + ANSWER_WITHIN_MS;
  while (!done()) {
    if (Date.now() > deadline) {
      const got = reply.packets.map((p) => p.cmd).join(", ") || "nothing";
      assert.unreachable(`the listener neither answered (a CONNECT, then ${qos1} QoS 1 publishes; got ${got}) nor closed within ${ANSWER_WITHIN_MS} ms`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

let probeSeq = 0;
async function probe(gateway: Gateway): Promise<void> {
  const device = await TestMqttClient.connect(gateway.mqttPort!, PROBE.sensorId, { username: PROBE.sensorId, password: PROBE.secret });
  const seq = ++probeSeq;
  await device.puback(device.publish(uplinkTopic(PROBE.sensorId), encodeObservation(observation(PROBE.sensorId, seq))));
  assert.ok(gateway.store.find(PROBE.sensorId, seq), `the probe's observation ${seq} is stored`);
  await device.end();
}

/** SUBSCRIBE, message id 1, no topic filter: its SUBACK of no return codes made mqtt-packet throw, uncaught, and the gateway process exited. */
const SUBSCRIBE_NO_TOPICS = Uint8Array.from([0x82, 0x02, 0x00, 0x01]);
/** The shrunk counterexamples of past failures, run first in the property. */
const REGRESSIONS: Session[] = [{ loggedIn: true, chunks: [SUBSCRIBE_NO_TOPICS], writeSizes: [512] }];

test("regression: a SUBSCRIBE or UNSUBSCRIBE without a topic filter closes the connection, and the gateway goes on", async () => {
  const dir = tempDir("fuzz-mqtt-empty-subscribe");
  const gateway = await startGateway({
    mqttPort: 0, httpPort: null, dataDir: dir.path, connector: memoryConnector(), logger: createMemoryLogger("gateway"), relayIntervalMs: 50,
    registry: new StaticRegistry([FUZZED, PROBE]),
  });
  try {
    for (const packet of [SUBSCRIBE_NO_TOPICS, Uint8Array.from([0xa2, 0x02, 0x00, 0x01])]) {
      const { socket, reply } = await open(gateway.mqttPort!);
      socket.write(sessionBytes({ loggedIn: true, chunks: [packet], writeSizes: [512] }, FUZZED));
      await within("the listener to close the connection", reply.closed, CLOSE_WITHIN_MS * 2);
      assert.equal(reply.packets.map((p) => p.cmd), ["connack"]);
      await probe(gateway);
    }
  } finally {
    await within("gateway close", gateway.close());
    dir.remove();
  }
});

test("any bytes on the MQTT socket: well-formed replies, a close where the protocol says, no hang, honest devices served", async () => {
  const dir = tempDir("fuzz-mqtt");
  const logger = createMemoryLogger("gateway");
  const gateway = await startGateway({
    mqttPort: 0, httpPort: null, dataDir: dir.path, connector: memoryConnector(), logger, relayIntervalMs: 50,
    registry: new StaticRegistry([FUZZED, PROBE]),
  });
  try {
    let sessions = 0;
    await fuzz("MQTT listener", session(FUZZED), async (s) => {
      await play(gateway.mqttPort!, s);
      if (++sessions % PROBE_EVERY === 0) await probe(gateway);
    }, { budgetMs: 8000, minRuns: 20, runTimeoutMs: 8000, examples: [...sessionExamples(FUZZED, encodeObservation(observation(FUZZED.sensorId, 1))), ...REGRESSIONS] });
    await probe(gateway);
    for (const [what, count] of Object.entries(reached)) assert.ok(count > 0, `no session reached "${what}": ${JSON.stringify(reached)}`);
    console.log(`  sessions: ${JSON.stringify(reached)}`);
    await waitFor("every fuzzing connection gone", () => gateway.stats().mqttClients === 0);
  } finally {
    await within("gateway close", gateway.close());
    dir.remove();
  }
});

test.after(() => {
  for (const line of summary()) console.log(`  ${line}`);
});

test.run();
