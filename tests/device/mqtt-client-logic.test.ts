/*
 * MqttClient's decisions, driven step by step: a scripted ECMA-419 socket and
 * a fake clock, so backoff delays, keep-alive instants and flow control are
 * checked exactly. The same client against real sockets and a real broker is
 * in mqtt-client.test.ts.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as mqttPacket from "mqtt-packet";
import { MqttClient, type MqttClientOptions, type TcpOptions, type TcpSocket } from "../../modules/mqtt/client.js";

class FakeClock {
  now = 0;
  #next = 1;
  readonly pending = new Map<number, { at: number; cb: () => void }>();
  readonly timers = {
    set: (cb: () => void, ms: number): unknown => {
      const id = this.#next++;
      this.pending.set(id, { at: this.now + ms, cb });
      return id;
    },
    clear: (id: unknown): void => void this.pending.delete(id as number),
  };
  advance(ms: number): void {
    const end = this.now + ms;
    for (let guard = 0; guard < 10_000; guard++) {
      let due: [number, { at: number; cb: () => void }] | undefined;
      for (const entry of this.pending) if (entry[1].at <= end && (!due || entry[1].at < due[1].at)) due = entry;
      if (!due) break;
      this.pending.delete(due[0]);
      this.now = due[1].at;
      due[1].cb();
    }
    this.now = end;
  }
}

class FakeTcp implements TcpSocket {
  static all: FakeTcp[] = [];
  readonly options: TcpOptions;
  readonly packets: mqttPacket.Packet[] = [];
  readonly #parser = mqttPacket.parser({ protocolVersion: 4 });
  #inbound: number[] = [];
  allowance = 0;
  closed = false;
  constructor(options: TcpOptions) {
    this.options = options;
    this.#parser.on("packet", (p) => this.packets.push(p));
    this.#parser.on("error", (e: Error) => assert.unreachable(`client wrote a malformed packet: ${e.message}`));
    FakeTcp.all.push(this);
  }
  read(count?: number): ArrayBuffer | undefined {
    if (this.#inbound.length === 0) return undefined;
    return new Uint8Array(this.#inbound.splice(0, count ?? this.#inbound.length)).buffer;
  }
  write(buffer: Uint8Array): void {
    if (this.closed) throw new Error("socket closed");
    if (buffer.length > this.allowance) throw new RangeError(`wrote ${buffer.length} with ${this.allowance} allowed`);
    this.allowance -= buffer.length;
    this.#parser.parse(Buffer.from(buffer));
  }
  close(): void {
    this.closed = true;
  }
  grant(n: number): void {
    this.allowance = n;
    this.options.onWritable.call(this, n);
  }
  deliver(p: mqttPacket.Packet | number[]): void {
    const bytes = Array.isArray(p) ? p : Array.from(mqttPacket.generate(p));
    this.#inbound.push(...bytes);
    this.options.onReadable.call(this, this.#inbound.length);
  }
  publishes(): mqttPacket.IPublishPacket[] {
    return this.packets.filter((p): p is mqttPacket.IPublishPacket => p.cmd === "publish");
  }
}

type Events = string[];

function start(overrides: Partial<MqttClientOptions> = {}) {
  FakeTcp.all = [];
  const clock = new FakeClock();
  const events: Events = [];
  const client = new MqttClient({
    socket: { io: FakeTcp, address: "192.0.2.1", port: 1883 },
    clientId: "dev-1",
    keepAliveSeconds: 10,
    timers: clock.timers,
    now: () => clock.now,
    random: () => 0,
    reconnectMinMs: 1_000,
    reconnectMaxMs: 8_000,
    pingTimeoutMs: 2_000,
    connectTimeoutMs: 5_000,
    onConnect: (sp) => events.push(`connect ${sp}`),
    onDisconnect: (reason) => events.push(`disconnect ${reason}`),
    onAck: (token) => events.push(`ack ${String(token)}`),
    onError: (message) => events.push(`error ${message}`),
    onMessage: (topic, payload) => events.push(`message ${topic} ${Array.from(payload).join(",")}`),
    ...overrides,
  });
  const sock = () => FakeTcp.all[FakeTcp.all.length - 1];
  const connect = (sessionPresent = false, room = 4096) => {
    sock().grant(room);
    sock().deliver({ cmd: "connack", sessionPresent, returnCode: 0 });
  };
  return { client, clock, events, sock, connect };
}

const payload = new Uint8Array([1, 2, 3]);
/** CONNECT for client id "dev-1": 2 header + 10 variable header + 2 + 5 client id. */
const CONNECT_BYTES = 19;

test("CONNECT waits for onWritable and carries the options [MQTT-3.1.0-1]; publish is refused until CONNACK", () => {
  const { client, sock, events } = start({ username: "u", password: new Uint8Array([9]) });
  assert.is(sock().packets.length, 0);
  assert.is(client.publish("t", payload, "early"), false);
  sock().grant(4096);
  assert.is(4096 - sock().allowance, CONNECT_BYTES + 2 + 1 + 2 + 1, "CONNECT with username and password");
  const c = sock().packets[0] as mqttPacket.IConnectPacket;
  assert.equal([c.cmd, c.clientId, c.clean, c.keepalive, c.username, Array.from(c.password ?? [])], ["connect", "dev-1", false, 10, "u", [9]]);
  assert.is(sock().options.address, "192.0.2.1");
  sock().deliver({ cmd: "connack", sessionPresent: false, returnCode: 0 });
  assert.equal(events, ["connect false"]);
  assert.ok(client.connected);
});

test("a QoS 1 publish goes out with a packet id and its PUBACK calls onAck with the token", () => {
  const { client, sock, events, connect } = start();
  connect();
  assert.ok(client.publish("xsedge/dev-1/obs", payload, "rec-1"));
  const [p] = sock().publishes();
  assert.equal([p.topic, p.qos, p.dup, p.messageId, Array.from(p.payload as Buffer)], ["xsedge/dev-1/obs", 1, false, 1, [1, 2, 3]]);
  assert.is(client.inFlight, 1);
  sock().deliver({ cmd: "puback", messageId: 1 });
  assert.equal(events, ["connect false", "ack rec-1"]);
  assert.is(client.inFlight, 0);
  assert.equal([client.stats.published, client.stats.sent, client.stats.acked], [1, 1, 1]);
});

test("the caller may reuse its payload buffer once publish() returns", () => {
  const { client, sock, connect, clock } = start();
  connect();
  const buf = new Uint8Array([7, 7]);
  client.publish("t", buf, 1);
  buf.fill(0);
  sock().options.onError.call(sock(), "link lost");
  clock.advance(1_000);
  connect(true);
  assert.equal(sock().publishes().map((p) => Array.from(p.payload as Buffer)), [[7, 7]]);
});

test("the in-flight window is bounded: publish answers false when full, true again after a PUBACK", () => {
  const { client, sock, connect } = start({ maxInFlight: 2 });
  connect();
  assert.ok(client.publish("t", payload, "a"));
  assert.ok(client.publish("t", payload, "b"));
  assert.is(client.publish("t", payload, "c"), false);
  sock().deliver({ cmd: "puback", messageId: 2 }); // out of order: frees its slot at once
  assert.ok(client.publish("t", payload, "c"));
  assert.is(client.publish("t", payload, "d"), false);
  sock().deliver({ cmd: "puback", messageId: 1 });
  assert.ok(client.publish("t", payload, "d"));
  assert.is(client.publish("t", payload, "e"), false);
  assert.equal(sock().publishes().map((p) => p.messageId), [1, 2, 3, 4]);
  assert.equal(client.close(), ["c", "d"]);
});

test("publish packet ids run 1..65531, wrap, and skip ids still in flight [MQTT-2.3.1-2]; the top four are the SUBSCRIBEs'", () => {
  const { client, sock, connect } = start({ maxInFlight: 2 });
  connect();
  const last = 65_535 - 4;
  client.publish("t", payload, "held"); // id 1 stays unacknowledged throughout
  for (let i = 2; i <= last; i++) {
    sock().grant(64); // a real socket frees its buffer as data goes out
    client.publish("t", payload, i);
    sock().deliver({ cmd: "puback", messageId: i });
  }
  client.publish("t", payload, "after-wrap");
  const ids = sock().publishes().map((p) => p.messageId);
  assert.is(ids.length, last + 1);
  assert.is(ids[last - 1], last);
  assert.is(ids[last], 2, "id 1 is still in flight, so the wrap skips it");
  assert.is(client.stats.acked, last - 1);
});

test("a PUBACK for an unknown packet id is counted, not fatal", () => {
  const { client, sock, events, connect } = start();
  connect();
  sock().deliver({ cmd: "puback", messageId: 999 });
  assert.is(client.stats.unknownAcks, 1);
  assert.ok(client.connected);
  assert.equal(events, ["connect false"]);
});

test("flow control: nothing is written beyond what onWritable allowed; the rest goes when room is reported", () => {
  const { client, sock } = start();
  sock().grant(CONNECT_BYTES); // exactly the CONNECT
  sock().deliver({ cmd: "connack", sessionPresent: false, returnCode: 0 });
  assert.is(sock().allowance, 0);
  assert.ok(client.publish("t", payload, "a"));
  assert.ok(client.publish("t", payload, "b"));
  assert.is(sock().publishes().length, 0);
  sock().grant(10); // room for one 10-byte PUBLISH
  assert.equal(sock().publishes().map((p) => p.messageId), [1]);
  sock().grant(100);
  assert.equal(sock().publishes().map((p) => p.messageId), [1, 2]);
  assert.is(client.stats.socketErrors, 0);
});

test("after a drop, unacknowledged messages go out again in order before new ones, DUP=1 when the session is present [MQTT-3.3.1-1] [MQTT-4.4.0-1]", () => {
  const { client, sock, events, clock, connect } = start();
  connect(false, CONNECT_BYTES + 20); // CONNECT plus room for two of the three PUBLISHes
  client.publish("t", payload, "a");
  client.publish("t", payload, "b");
  client.publish("t", payload, "c"); // still unwritten when the link drops
  const first = sock();
  assert.is(first.publishes().length, 2);
  first.options.onError.call(first, "link lost");
  assert.ok(first.closed);
  assert.equal(events.slice(1), ["error socket error: link lost", "disconnect socket error: link lost"]);
  assert.is(client.publish("t", payload, "late"), false, "not connected: the caller keeps the record");
  clock.advance(1_000);
  connect(true);
  client.publish("t", payload, "d");
  assert.equal(sock().publishes().map((p) => [p.messageId, p.dup]), [[1, true], [2, true], [3, false], [4, false]]);
  assert.equal([client.stats.resent, client.stats.reconnects], [2, 1]);
});

test("an out-of-order PUBACK before a drop: the rest are re-sent in publish order", () => {
  const { client, sock, clock, connect } = start();
  connect();
  for (const t of ["a", "b", "c", "d"]) client.publish("t", payload, t);
  sock().deliver({ cmd: "puback", messageId: 2 });
  sock().options.onError.call(sock(), "link lost");
  clock.advance(1_000);
  connect(true);
  client.publish("t", payload, "e");
  assert.equal(sock().publishes().map((p) => [p.messageId, p.dup]), [[1, true], [3, true], [4, true], [5, false]]);
  assert.equal(client.close(), ["a", "c", "d", "e"]);
});

test("without a session on the broker, re-sent messages go out as fresh publishes (DUP=0)", () => {
  const { client, sock, clock, connect } = start({ cleanSession: true });
  connect();
  client.publish("t", payload, "a");
  client.publish("t", payload, "b");
  sock().options.onError.call(sock(), "link lost");
  clock.advance(1_000);
  connect(false);
  assert.equal(sock().publishes().map((p) => [p.messageId, p.dup]), [[1, false], [2, false]]);
  sock().deliver({ cmd: "puback", messageId: 1 });
  sock().deliver({ cmd: "puback", messageId: 2 });
  assert.is(client.inFlight, 0);
});

test("a refused CONNACK names the reason, closes, and backs off exponentially up to the maximum", () => {
  const { client, sock, events, clock } = start();
  const refuse = (code: number) => {
    sock().grant(4096);
    sock().deliver({ cmd: "connack", sessionPresent: false, returnCode: code });
  };
  refuse(5);
  assert.equal(events, ["error connection refused: not authorized (5)"]);
  assert.ok(sock().closed);
  const gaps: number[] = [];
  for (const code of [4, 3, 2, 1, 6]) {
    const before = FakeTcp.all.length;
    const t0 = clock.now;
    while (FakeTcp.all.length === before && clock.now - t0 < 60_000) clock.advance(1);
    gaps.push(clock.now - t0);
    refuse(code);
  }
  assert.equal(gaps, [1_000, 2_000, 4_000, 8_000, 8_000]);
  assert.equal(events.slice(1), [
    "error connection refused: bad user name or password (4)", "error connection refused: server unavailable (3)",
    "error connection refused: identifier rejected (2)", "error connection refused: unacceptable protocol version (1)",
    "error connection refused: unknown return code (6)"]);
  assert.equal([client.stats.refused, client.stats.connects], [6, 0]);
});

test("a successful CONNACK resets the backoff to its minimum", () => {
  const { sock, clock, connect } = start();
  for (let i = 0; i < 3; i++) {
    sock().options.onError.call(sock(), "refused");
    clock.advance(8_000);
  }
  connect();
  sock().options.onError.call(sock(), "link lost");
  const before = FakeTcp.all.length;
  clock.advance(999);
  assert.is(FakeTcp.all.length, before);
  clock.advance(1);
  assert.is(FakeTcp.all.length, before + 1);
});

test("jitter takes up to half off each backoff delay, never more", () => {
  for (const [r, expected] of [[0, 1_000], [0.5, 750], [0.998, 501]] as const) {
    const { sock, clock } = start({ random: () => r });
    sock().options.onError.call(sock(), "refused");
    clock.advance(expected - 1);
    assert.is(FakeTcp.all.length, 1, `r=${r}: too early`);
    clock.advance(1);
    assert.is(FakeTcp.all.length, 2, `r=${r}: not at ${expected} ms`);
  }
});

test("keep-alive: PINGREQ after a silent keep-alive period, postponed by other traffic [MQTT-3.1.2-23]", () => {
  const { client, sock, clock, connect } = start();
  connect();
  const pings = () => sock().packets.filter((p) => p.cmd === "pingreq").length;
  clock.advance(9_999);
  assert.is(pings(), 0);
  clock.advance(1);
  assert.is(pings(), 1);
  sock().deliver({ cmd: "pingresp" });
  clock.advance(5_000);
  client.publish("t", payload, "x"); // traffic at t=15 s: the next ping is due at 25 s, not 20 s
  clock.advance(9_999);
  assert.is(pings(), 1);
  clock.advance(1);
  assert.is(pings(), 2);
  sock().deliver({ cmd: "pingresp" });
  assert.ok(client.connected);
  assert.is(client.stats.pingsSent, 2);
});

test("keep-alive: no answer to PINGREQ within the timeout → connection dead, closed, retried", () => {
  const { client, sock, events, clock, connect } = start();
  connect();
  const first = sock();
  clock.advance(10_000 + 1_999);
  assert.ok(client.connected);
  clock.advance(1);
  assert.ok(first.closed);
  assert.equal(events.slice(1), ["error keep-alive: no answer to PINGREQ within 2000 ms", "disconnect keep-alive: no answer to PINGREQ within 2000 ms"]);
  assert.is(client.stats.pingTimeouts, 1);
  clock.advance(1_000);
  assert.is(FakeTcp.all.length, 2);
});

test("keep-alive 0 turns pinging off", () => {
  const { sock, clock, connect } = start({ keepAliveSeconds: 0 });
  connect();
  clock.advance(600_000);
  assert.equal(sock().packets.map((p) => p.cmd), ["connect"]);
});

test("no CONNACK within the connect timeout, or no TCP connection at all → retried", () => {
  const { client, sock, events, clock } = start();
  clock.advance(4_999);
  assert.is(FakeTcp.all.length, 1);
  clock.advance(1); // onWritable never came: TCP connect hung
  assert.ok(sock().closed);
  clock.advance(1_000);
  sock().grant(4096); // connected, CONNECT sent, broker silent
  clock.advance(5_000);
  assert.ok(sock().closed);
  assert.is(client.stats.connectTimeouts, 2);
  assert.equal(events, ["error connect timeout: no CONNACK within 5000 ms", "error connect timeout: no CONNACK within 5000 ms"]);
});

const protocolFaults: [string, (t: FakeTcp) => void, RegExp][] = [
  ["garbage bytes", (t) => t.deliver([0xf0, 0x00]), /unexpected packet type reserved \(15\)/],
  ["PUBACK before CONNACK [MQTT-3.2.0-1]", (t) => t.deliver({ cmd: "puback", messageId: 1 }), /PUBACK before CONNACK \[MQTT-3.2.0-1\]/],
  ["PINGRESP before CONNACK [MQTT-3.2.0-1]", (t) => t.deliver({ cmd: "pingresp" }), /PINGRESP before CONNACK/],
  ["a second CONNACK [MQTT-3.2.0-1]", (t) => {
    t.deliver({ cmd: "connack", sessionPresent: false, returnCode: 0 });
    t.deliver({ cmd: "connack", sessionPresent: false, returnCode: 0 });
  }, /second CONNACK/],
];

for (const [name, act, pattern] of protocolFaults) {
  test(`protocol fault (${name}) is counted and reported, the socket closed, and the client tries again`, () => {
    const { client, sock, events, clock } = start();
    sock().grant(4096);
    const first = sock();
    act(first);
    assert.ok(first.closed);
    assert.is(client.stats.protocolErrors, 1);
    assert.ok(events.some((e) => e.startsWith("error mqtt protocol error") && pattern.test(e)), events.join("\n"));
    clock.advance(1_000);
    assert.is(FakeTcp.all.length, 2);
    sock().grant(4096);
    sock().deliver({ cmd: "connack", sessionPresent: false, returnCode: 0 });
    assert.ok(client.connected, "the reader was reset for the new connection");
  });
}

test("a SUBACK, never asked for, is counted as an unknown acknowledgement", () => {
  const { client, sock, connect } = start();
  connect();
  sock().deliver({ cmd: "suback", messageId: 1, granted: [0] });
  assert.equal([client.stats.unknownAcks, client.connected], [1, true]);
});

test("subscriptions: a SUBSCRIBE per topic on every connection, with ids no publish takes, and SUBACK reported", () => {
  const subscribed: string[] = [];
  const { client, sock, connect, clock } = start({
    subscriptions: ["xsedge/v1/dev-1/down"],
    onSubscribe: (topic, granted) => subscribed.push(`${topic} ${granted}`),
  });
  connect();
  const subscribe = () => sock().packets.filter((p): p is mqttPacket.ISubscribePacket => p.cmd === "subscribe");
  assert.is(subscribe().length, 1);
  const [first] = subscribe();
  assert.equal(first.subscriptions, [{ topic: "xsedge/v1/dev-1/down", qos: 1 }]);
  assert.is(first.messageId, 65_535 - 4 + 1, "the first of the ids kept for subscriptions");
  sock().deliver({ cmd: "suback", messageId: first.messageId!, granted: [1] });
  assert.equal(subscribed, ["xsedge/v1/dev-1/down true"]);
  // A connection lost and made again: subscribed again, since the broker may have lost the session.
  sock().deliver([0xe0, 0]); // DISCONNECT from the broker is a protocol error for a client, so the link drops
  clock.advance(1_000);
  connect(true);
  assert.is(subscribe().length, 1, "the new socket carries its own SUBSCRIBE");
  sock().deliver({ cmd: "suback", messageId: first.messageId!, granted: [0x80] });
  assert.equal(subscribed, ["xsedge/v1/dev-1/down true", "xsedge/v1/dev-1/down false"]);
  assert.equal([client.stats.subscribed, client.stats.subscribeRefused, client.stats.unknownAcks], [1, 1, 0]);
  // A SUBACK for an id this client never used is still unknown.
  sock().deliver({ cmd: "suback", messageId: 77, granted: [1] });
  assert.is(client.stats.unknownAcks, 1);
});

test("a SUBSCRIBE waits for room on the socket, like every packet", () => {
  const { sock, connect } = start({ subscriptions: ["a/b"] });
  connect(false, 4);
  assert.is(sock().packets.filter((p) => p.cmd === "subscribe").length, 0);
  sock().grant(4096);
  assert.is(sock().packets.filter((p) => p.cmd === "subscribe").length, 1);
});

test("subscriptions are bounded and exact: more than four, or a wildcard, is a RangeError", () => {
  assert.throws(() => start({ subscriptions: ["a", "b", "c", "d", "e"] }), /at most 4/);
  assert.throws(() => start({ subscriptions: ["a/+"] }), /wildcard/);
});

test("incoming PUBLISH: onMessage, and a PUBACK for QoS 1 only", () => {
  const { client, sock, events, connect } = start();
  connect();
  sock().deliver({ cmd: "publish", topic: "cmd/a", payload: Buffer.from([5]), qos: 0, dup: false, retain: false });
  sock().deliver({ cmd: "publish", topic: "cmd/b", payload: Buffer.from([6]), qos: 1, messageId: 321, dup: false, retain: false });
  assert.equal(events.slice(1), ["message cmd/a 5", "message cmd/b 6"]);
  assert.equal(sock().packets.filter((p) => p.cmd === "puback").map((p) => p.messageId), [321]);
  assert.is(client.stats.received, 2);
});

test("incoming QoS 1 messages while the socket has no room: PUBACKs wait, and too many is an overrun", () => {
  const { client, sock, events } = start();
  sock().grant(CONNECT_BYTES);
  sock().deliver({ cmd: "connack", sessionPresent: false, returnCode: 0 });
  for (let id = 1; id <= 5; id++) sock().deliver({ cmd: "publish", topic: "c", payload: Buffer.from([id]), qos: 1, messageId: id, dup: false, retain: false });
  assert.ok(sock().closed);
  assert.is(client.stats.overruns, 1);
  assert.ok(events.includes("error receive overrun: more than 4 PUBACKs waiting for the socket"));
  const { sock: s2, connect } = start();
  s2().grant(CONNECT_BYTES);
  s2().deliver({ cmd: "connack", sessionPresent: false, returnCode: 0 });
  s2().deliver({ cmd: "publish", topic: "c", payload: Buffer.from([1]), qos: 1, messageId: 8, dup: false, retain: false });
  assert.is(s2().packets.filter((p) => p.cmd === "puback").length, 0);
  s2().grant(4);
  assert.equal(s2().packets.filter((p) => p.cmd === "puback").map((p) => p.messageId), [8]);
  void connect;
});

test("close() sends DISCONNECT, returns the unacknowledged tokens in order, and stops for good", () => {
  const { client, sock, events, clock, connect } = start();
  connect();
  for (const t of ["a", "b", "c"]) client.publish("t", payload, t);
  sock().deliver({ cmd: "puback", messageId: 2 });
  assert.equal(client.close(), ["a", "c"]);
  assert.equal(sock().packets.map((p) => p.cmd).slice(-1), ["disconnect"]);
  assert.ok(sock().closed);
  assert.equal(events.slice(-1), ["disconnect closed by the application"]);
  assert.is(clock.pending.size, 0, "no timer left behind");
  assert.is(client.publish("t", payload, "x"), false);
  assert.equal(client.close(), []);
  clock.advance(120_000);
  assert.is(FakeTcp.all.length, 1);
});

test("close() from inside a callback stops the client mid-chunk without reconnecting", () => {
  const { client, sock, clock, connect } = start({ onAck: () => client.close() });
  connect();
  client.publish("t", payload, "a");
  client.publish("t", payload, "b");
  sock().deliver([0x40, 2, 0, 1, 0x40, 2, 0, 2]);
  assert.equal([client.stats.acked, client.stats.unknownAcks, client.stats.protocolErrors], [1, 0, 0]);
  clock.advance(120_000);
  assert.is(FakeTcp.all.length, 1);
});

test("a throwing application callback is counted and reported, and the client carries on", () => {
  const { client, sock, events, connect } = start({ onAck: () => { throw new Error("boom"); } });
  connect();
  client.publish("t", payload, "a");
  sock().deliver({ cmd: "puback", messageId: 1 });
  assert.equal([client.stats.callbackErrors, client.stats.acked, client.connected], [1, 1, true]);
  assert.ok(events.includes("error callback threw: boom"));
});

test("a socket class that throws, or a write that throws, is a counted socket error and retried", () => {
  let fail = true;
  class Throwing extends FakeTcp {
    constructor(o: TcpOptions) {
      if (fail) throw new Error("no route to host");
      super(o);
    }
  }
  const { client, events, clock, sock } = start({ socket: { io: Throwing, address: "192.0.2.1", port: 1883 } });
  assert.equal(events, ["error socket error: no route to host"]);
  fail = false;
  clock.advance(1_000);
  sock().grant(4096);
  sock().deliver({ cmd: "connack", sessionPresent: false, returnCode: 0 });
  sock().closed = true; // the next write throws
  assert.ok(client.publish("t", payload, "a"));
  assert.is(client.stats.socketErrors, 2);
  assert.ok(events.includes("error socket write failed: socket closed"));
  assert.is(client.inFlight, 1, "kept for the next connection");
});

test("callbacks from a socket already given up are ignored", () => {
  const { client, sock, clock, connect } = start();
  connect();
  const old = sock();
  old.options.onError.call(old, "link lost");
  clock.advance(1_000);
  connect();
  old.deliver([0xf0, 0]);
  old.options.onError.call(old, "late");
  assert.ok(client.connected);
  assert.is(client.stats.protocolErrors, 0);
});

test("bad options and bad publish arguments are rejected with a RangeError naming them", () => {
  assert.throws(() => start({ maxInFlight: 0 }), /maxInFlight: 0/);
  assert.throws(() => start({ reconnectMinMs: 5_000, reconnectMaxMs: 1_000 }), /reconnectMaxMs: 1000 is below/);
  assert.throws(() => start({ pingTimeoutMs: -1 }), /pingTimeoutMs: -1/);
  assert.throws(() => start({ clientId: "a\u0000" }), /clientId: contains U\+0000/);
  assert.throws(() => start({ keepAliveSeconds: 70_000 }), /keepAliveSeconds: 70000/);
  const { client, connect } = start({ maxPacketBytes: 32 });
  connect();
  assert.throws(() => client.publish("a/+", payload), (e: unknown) => e instanceof RangeError && /wildcard/.test(e.message));
  assert.throws(() => client.publish("t", new Uint8Array(40)), (e: unknown) => e instanceof RangeError && /47 bytes exceeds maxPacketBytes \(32\)/.test(e.message));
  assert.throws(() => client.publish("t", [1, 2] as unknown as Uint8Array), (e: unknown) => e instanceof TypeError && /payload/.test(e.message));
  assert.equal([client.stats.rejected, client.stats.published, client.inFlight], [3, 0, 0]);
});

test.run();
