/*
 * MqttClient over real loopback sockets (tests/support/node-tcp.ts) against a
 * real aedes broker, and against raw servers that misbehave. Timers are
 * Node's, shortened; every wait fails after a bound instead of hanging.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as net from "node:net";
import { Aedes, type AedesOptions, type AuthenticateError } from "aedes";
import * as mqttPacket from "mqtt-packet";
import { MqttClient, type MqttClientOptions } from "../../modules/mqtt/client.js";
import { NodeTcp } from "../support/node-tcp.js";

const WAIT_MS = 3_000;
/** Longest any one test may run, its waits included. */
const TEST_MS = 10_000;

/** Rejects naming `what` if `promise` has not settled within `ms`. */
function bounded<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Every server and client a test opens, closed after it even when it fails, so a failure cannot leave the run hanging. */
const openServers = new Set<Server>();
const openClients = new Set<MqttClient>();
test.after.each(async () => {
  for (const c of openClients) c.close();
  openClients.clear();
  for (const s of openServers) await s.kill();
});

/** A uvu test that fails instead of hanging. */
function it(name: string, body: () => Promise<void>): void {
  test(name, () => bounded(body(), `test "${name}"`, TEST_MS));
}

/** Polls `condition` until it holds; fails naming `what` after `ms`. */
async function until(what: string, condition: () => boolean, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) assert.unreachable(`timed out after ${ms} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

interface Server {
  server: net.Server;
  port: number;
  sockets: Set<net.Socket>;
  /** Closes the listener and cuts every open connection, as a crashed broker host would. */
  kill(): Promise<void>;
}

async function listen(onConnection: (s: net.Socket) => void, port = 0): Promise<Server> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    onConnection(s);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const handle: Server = {
    server, sockets, port: (server.address() as net.AddressInfo).port,
    kill: () => {
      openServers.delete(handle);
      for (const s of sockets) s.destroy();
      return bounded(new Promise<void>((resolve) => server.close(() => resolve())), "server close");
    },
  };
  openServers.add(handle);
  return handle;
}

interface Run {
  client: MqttClient;
  events: string[];
  acks: unknown[];
}

function connectClient(port: number, overrides: Partial<MqttClientOptions> = {}): Run {
  const events: string[] = [];
  const acks: unknown[] = [];
  const client = new MqttClient({
    socket: { io: NodeTcp, address: "127.0.0.1", port },
    clientId: "dev-1",
    keepAliveSeconds: 30,
    timers: { set: (cb, ms) => setTimeout(cb, ms), clear: (h) => clearTimeout(h as NodeJS.Timeout) },
    now: () => performance.now(),
    random: () => 0,
    reconnectMinMs: 50,
    reconnectMaxMs: 400,
    connectTimeoutMs: 1_000,
    onConnect: (sp) => events.push(`connect ${sp}`),
    onDisconnect: (reason) => events.push(`disconnect ${reason}`),
    onError: (message) => events.push(`error ${message}`),
    onAck: (token) => acks.push(token),
    ...overrides,
  });
  openClients.add(client);
  return { client, events, acks };
}

async function withBroker(options: AedesOptions, body: (broker: Aedes, server: Server) => Promise<void>): Promise<void> {
  const broker = await Aedes.createBroker(options);
  const server = await listen((s) => broker.handle(s));
  try {
    await body(broker, server);
  } finally {
    await server.kill();
    await bounded(new Promise<void>((resolve) => broker.close(() => resolve())), "broker close");
  }
}

const bytes = (s: string) => new TextEncoder().encode(s);

it("connects to aedes and a QoS 1 publish arrives and is acknowledged", async () => {
  await withBroker({}, async (broker, server) => {
    const arrived: string[] = [];
    broker.on("publish", (packet, client) => {
      if (client) arrived.push(`${client.id} ${packet.topic} ${packet.qos} ${packet.payload.toString()}`);
    });
    const { client, events, acks } = connectClient(server.port);
    try {
      await until("CONNACK", () => client.connected);
      assert.ok(client.publish("xsedge/dev-1/obs", bytes("21.4"), "rec-1"));
      await until("PUBACK", () => acks.length === 1);
      assert.equal(acks, ["rec-1"]);
      assert.equal(arrived, ["dev-1 xsedge/dev-1/obs 1 21.4"]);
      assert.equal(events, ["connect false"]);
      assert.equal([client.stats.published, client.stats.acked, client.inFlight], [1, 1, 0]);
    } finally {
      client.close();
    }
  });
});

it("subscribes to its downlink on aedes; a QoS 1 message from the broker arrives and is acknowledged", async () => {
  await withBroker({}, async (broker, server) => {
    const received: string[] = [];
    const acked: string[] = [];
    broker.on("ack", (packet, client) => {
      if (packet && "topic" in packet) acked.push(`${client.id} ${packet.topic} ${Buffer.from(packet.payload as Buffer).toString()}`);
    });
    let subscribed = false;
    const { client } = connectClient(server.port, {
      subscriptions: ["xsedge/v1/dev-1/down"],
      onSubscribe: (_topic, granted) => { subscribed = granted; },
      onMessage: (topic, payload) => received.push(`${topic} ${Buffer.from(payload).toString()}`),
    });
    try {
      await until("SUBACK", () => subscribed);
      broker.publish({ cmd: "publish", topic: "xsedge/v1/dev-1/down", payload: Buffer.from("set"), qos: 1, retain: false, dup: false }, () => {});
      await until("the message and its PUBACK", () => received.length === 1 && acked.length === 1);
      assert.equal(received, ["xsedge/v1/dev-1/down set"]);
      assert.equal(acked, ["dev-1 xsedge/v1/dev-1/down set"]);
      assert.equal([client.stats.subscribed, client.stats.received], [1, 1]);
    } finally {
      client.close();
    }
  });
});

/** Leaves a persistent session with one subscription, so aedes answers CONNACK with session present [MQTT-3.2.2-2]. */
async function primeSession(port: number, clientId: string): Promise<void> {
  const sock = net.connect({ host: "127.0.0.1", port });
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const seen: string[] = [];
  parser.on("packet", (p) => seen.push(p.cmd));
  sock.on("data", (d) => parser.parse(d));
  sock.write(mqttPacket.generate({ cmd: "connect", clientId, clean: false, keepalive: 30, protocolVersion: 4, protocolId: "MQTT" }));
  sock.write(mqttPacket.generate({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: `cmd/${clientId}`, qos: 1 }] }));
  try {
    await until("session primed", () => seen.includes("suback"));
  } finally {
    sock.end(mqttPacket.generate({ cmd: "disconnect" }));
  }
}

for (const sessionPresent of [true, false]) {
  it(`broker killed mid-flight and restarted: the client backs off, reconnects, and the unacknowledged messages arrive in order (session present: ${sessionPresent})`, async () => {
    await withBroker({}, async (broker) => {
      const seen: string[] = [];
      let hold = true;
      broker.authorizePublish = (client, packet, callback) => {
        if (client) seen.push(`${packet.payload.toString()} id=${packet.messageId} dup=${packet.dup}`);
        if (!hold) callback(null); // held: no PUBACK, as if the broker died before persisting
      };
      let server = await listen((s) => broker.handle(s));
      const port = server.port;
      if (sessionPresent) await primeSession(port, "dev-1");
      const { client, events, acks } = connectClient(port);
      try {
        await until("CONNACK", () => client.connected);
        for (const m of ["m1", "m2", "m3"]) assert.ok(client.publish("xsedge/dev-1/obs", bytes(m), m));
        await until("the broker holds the first message", () => seen.length >= 1);
        assert.is(client.inFlight, 3);
        const firstAttempt = NodeTcp.opened.length;
        await server.kill();
        await until("reconnect attempts against the dead port", () => NodeTcp.opened.length >= firstAttempt + 3);
        assert.is(client.connected, false);
        assert.equal(acks, [], "nothing acknowledged by a broker that never answered");
        const attempts = NodeTcp.opened.slice(firstAttempt - 1).map((s) => s.createdAt);
        const gaps = attempts.slice(1).map((t, i) => t - attempts[i]);
        assert.ok(gaps[1] >= 100 - 2 && gaps[2] >= 200 - 2, `backoff gaps should double from 50 ms: ${gaps.join(", ")}`);
        hold = false;
        seen.length = 0;
        server = await listen((s) => broker.handle(s), port);
        await until("all three acknowledged after the restart", () => acks.length === 3);
        assert.equal(acks, ["m1", "m2", "m3"]);
        assert.ok(client.publish("xsedge/dev-1/obs", bytes("m4"), "m4"));
        await until("the new message acknowledged", () => acks.length === 4);
        const dup = sessionPresent;
        assert.equal(seen, [`m1 id=1 dup=${dup}`, `m2 id=2 dup=${dup}`, `m3 id=3 dup=${dup}`, "m4 id=4 dup=false"]);
        assert.equal([client.stats.resent, client.stats.reconnects, client.inFlight], [3, 1, 0]);
        assert.ok(events.includes(`connect ${sessionPresent}`));
        assert.ok(events.some((e) => e.startsWith("disconnect socket error")), events.join("\n"));
      } finally {
        client.close();
        await server.kill();
      }
    });
  });
}

it("a refused CONNACK is reported with its reason and the client backs off before retrying", async () => {
  let refuse = true;
  const authenticate: AedesOptions["authenticate"] = (_client, _user, _password, done) => {
    if (!refuse) return done(null, true);
    const error = new Error("not on the list") as AuthenticateError;
    error.returnCode = 5;
    done(error, null);
  };
  await withBroker({ authenticate }, async (_broker, server) => {
    const start = NodeTcp.opened.length;
    const { client, events } = connectClient(server.port);
    try {
      await until("three refusals", () => client.stats.refused >= 3);
      assert.equal(events.slice(0, 3), Array(3).fill("error connection refused: not authorized (5)"));
      const times = NodeTcp.opened.slice(start).map((s) => s.createdAt);
      assert.ok(times[1] - times[0] >= 50 - 2 && times[2] - times[1] >= 100 - 2, `backoff gaps: ${times.slice(1).map((t, i) => t - times[i]).join(", ")}`);
      assert.is(client.stats.connects, 0);
      refuse = false;
      await until("accepted once authentication passes", () => client.connected);
    } finally {
      client.close();
    }
  });
});

it("keep-alive: PINGREQs reach aedes when the client is idle and PINGRESPs keep the connection up", async () => {
  await withBroker({}, async (broker, server) => {
    let pings = 0;
    broker.on("ping", () => pings++);
    const { client } = connectClient(server.port, { keepAliveSeconds: 1, pingTimeoutMs: 500 });
    try {
      await until("two PINGREQs at the broker", () => pings >= 2);
      assert.ok(client.connected);
      assert.equal([client.stats.pingsSent >= 2, client.stats.pingTimeouts, client.stats.connects], [true, 0, 1]);
    } finally {
      client.close();
    }
  });
});

/** A raw server that answers CONNECT with CONNACK and then nothing at all. */
it("a server that goes silent after CONNACK is declared dead after keep-alive plus the ping timeout", async () => {
  const received: number[] = [];
  const server = await listen((s) => {
    s.once("data", () => s.write(Buffer.from([0x20, 2, 0, 0])));
    s.on("data", (d) => received.push(...d));
  });
  const { client, events } = connectClient(server.port, { keepAliveSeconds: 1, pingTimeoutMs: 300, reconnectMinMs: 5_000, reconnectMaxMs: 5_000 });
  const started = performance.now();
  try {
    await until("the connection declared dead", () => client.stats.pingTimeouts === 1);
    const took = performance.now() - started;
    assert.ok(took >= 1_300 - 5 && took < 2_500, `declared dead after ${Math.round(took)} ms`);
    assert.ok(received.join(",").endsWith("192,0"), "the server received a PINGREQ");
    assert.ok(events.includes("error keep-alive: no answer to PINGREQ within 300 ms"), events.join("\n"));
    assert.is(client.connected, false);
    await until("the server sees the socket closed", () => server.sockets.size === 0);
  } finally {
    client.close();
    await server.kill();
  }
});

it("a server that accepts and never answers at all: no CONNACK within the connect timeout, retried", async () => {
  let connections = 0;
  const server = await listen(() => connections++);
  const { client, events } = connectClient(server.port, { connectTimeoutMs: 200 });
  try {
    await until("two connect timeouts and a third attempt", () => client.stats.connectTimeouts >= 2 && connections >= 3);
    assert.equal(events.slice(0, 2), Array(2).fill("error connect timeout: no CONNACK within 200 ms"));
  } finally {
    client.close();
    await server.kill();
  }
});

it("a server that sends garbage: protocol error counted, connection closed, and the client keeps trying", async () => {
  let connections = 0;
  let closedByClient = 0;
  const server = await listen((s) => {
    connections++;
    s.on("close", () => closedByClient++); // this server never closes a socket itself
    s.resume(); // read (and ignore) the CONNECT, so the client's FIN is seen
    s.write(Buffer.from([0xf0, 0x00, 0xde, 0xad]));
  });
  const { client, events } = connectClient(server.port);
  await until("two protocol errors, each connection closed, a third attempt", () => client.stats.protocolErrors >= 2 && closedByClient >= 2 && connections >= 3);
  assert.ok(events[0].startsWith("error mqtt protocol error (packet-type): unexpected packet type reserved (15)"), events[0]);
  assert.equal([client.stats.connects, client.connected], [0, false]);
});

it("close() on a live connection sends DISCONNECT and hands back what aedes had not acknowledged", async () => {
  await withBroker({}, async (broker, server) => {
    broker.authorizePublish = () => {}; // never acknowledged
    const { client } = connectClient(server.port);
    await until("CONNACK", () => client.connected);
    const socket = NodeTcp.opened[NodeTcp.opened.length - 1];
    client.publish("t/a", bytes("1"), "first");
    client.publish("t/a", bytes("2"), "second");
    await until("both written", () => client.stats.sent === 2);
    assert.equal(client.close(), ["first", "second"]);
    assert.equal(Array.from(socket.written[socket.written.length - 1]), [0xe0, 0x00], "DISCONNECT was the last packet written");
    await until("aedes saw the connection end", () => broker.connectedClients === 0);
  });
});

test.run();
