/*
 * The device listener's bounds, attacked through raw TCP sockets as issue
 * 2.1 found them open: packets announcing 256 MB before and after
 * CONNECT, sockets that never CONNECT (or send half of one), thousands of
 * half-open sockets, connection caps. Each test asserts the refusal, its
 * counter, and that an honest device kept getting PUBACKs meanwhile.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { connect, type Socket } from "node:net";
import mqtt from "mqtt-packet";
import { startGateway, type Gateway, type GatewayOptions } from "../../../hosts/gateway/gateway.js";
import { StaticRegistry } from "../../../hosts/gateway/ingest/sensor-registry.js";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { memoryConnector } from "../../support/gateway-fakes.js";
import { TestMqttClient } from "../../support/gateway-mqtt-client.js";
import { HonestDevice, type HonestReport } from "../../support/honest-device.js";
import { tempDir, waitFor, within } from "../../support/test-helpers.js";

const secretOf = (sensorId: string) => `secret-of-${sensorId}`;
const login = (sensorId: string) => ({ username: sensorId, password: secretOf(sensorId) });
/** An honest device's slowest PUBACK while an attack runs, at most: generous, for a shared machine. */
const HONEST_BOUND_MS = 1000;

async function withGateway(options: Partial<GatewayOptions>, run: (gateway: Gateway) => Promise<void>): Promise<void> {
  const dir = tempDir("listener-limits");
  const registry = new StaticRegistry(["honest", "other", "attacker"].map((sensorId) => ({ sensorId, secret: secretOf(sensorId) })));
  const gateway = await startGateway({ mqttPort: 0, httpPort: null, dataDir: dir.path, connector: memoryConnector(), logger: createMemoryLogger(), registry, ...options });
  try {
    await run(gateway);
  } finally {
    await within("gateway close", gateway.close());
    dir.remove();
  }
}

function assertServed(report: HonestReport): void {
  assert.ok(report.connected, "the honest device stayed connected");
  assert.ok(report.acked >= 3, `the honest device got ${report.acked} PUBACKs`);
  assert.is(report.unacked, 0, "every honest publish was acknowledged");
  assert.ok(report.slowestMs < HONEST_BOUND_MS, `slowest honest PUBACK ${report.slowestMs.toFixed(0)} ms`);
}

function open(port: number, localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1", ...(localAddress ? { localAddress } : {}) });
    socket.once("connect", () => resolve(socket)).once("error", reject);
  });
}

const closed = (socket: Socket) => new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once("close", () => resolve())));

test("a packet announcing 256 MB, a CONNECT before login and a PUBLISH after, is refused on its header: nothing buffered, memory flat", async () => {
  await withGateway({}, async (gateway) => {
    const honest = await HonestDevice.start(gateway.mqttPort!, login("honest"));
    const body = Buffer.alloc(1 << 20, 0x41);
    const before = process.memoryUsage().arrayBuffers;
    const attackers: Socket[] = [];
    for (let i = 0; i < 3; i++) {
      // Before CONNECT: the first thing on the socket, a CONNECT that size (a PUBLISH there is refused on its first byte, not-connect-first).
      const raw = await open(gateway.mqttPort!);
      raw.on("error", () => {});
      raw.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]));
      for (let mb = 0; mb < 8; mb++) raw.write(body);
      attackers.push(raw);
      // After CONNECT, logged in.
      const device = await TestMqttClient.connect(gateway.mqttPort!, "attacker", login("attacker"));
      device.write(Buffer.from([0x32, 0xff, 0xff, 0xff, 0x7f]));
      for (let mb = 0; mb < 8; mb++) device.write(body);
      await within("the logged-in attacker to be cut off", device.closed);
    }
    await within("the attackers to be cut off", Promise.all(attackers.map(closed)));
    const grown = process.memoryUsage().arrayBuffers - before;
    assert.ok(grown < 4 << 20, `buffers grew by ${(grown / 2 ** 20).toFixed(1)} MB for 48 MB sent`);
    assert.is(gateway.stats().mqtt?.refusedByReason["packet-too-large"], 6);
    const served = await honest.stop();
    assertServed(served);
    assert.is(gateway.stats().store.observations, served.acked, "nothing of the attackers' was stored");
  });
});

test("a socket that never sends CONNECT, or half of one, is closed at the CONNECT deadline", async () => {
  await withGateway({ mqttLimits: { connectTimeoutMs: 300 } }, async (gateway) => {
    const honest = await HonestDevice.start(gateway.mqttPort!, login("honest"));
    const silent = await open(gateway.mqttPort!);
    const half = await open(gateway.mqttPort!);
    half.write(mqtt.generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, clientId: "honest", keepalive: 0 }).subarray(0, 6));
    for (const socket of [silent, half]) socket.on("error", () => {});
    await within("both to be closed by the gateway", Promise.all([closed(silent), closed(half)]), 3000);
    assert.is(gateway.stats().mqtt?.refusedByReason["connect-timeout"], 2);
    assertServed(await honest.stop());
  });
});

test("5,000 sockets that never log in: at most the per-address cap are held, the rest closed at once; others still connect", async () => {
  const limits = { maxUnauthenticated: 200, maxUnauthenticatedPerAddress: 50, connectTimeoutMs: 1000 };
  await withGateway({ mqttLimits: limits }, async (gateway) => {
    const honest = await HonestDevice.start(gateway.mqttPort!, login("honest"));
    let most = 0;
    const sample = setInterval(() => (most = Math.max(most, gateway.stats().mqtt!.unauthenticated)), 5);
    const sockets: Socket[] = [];
    for (let batch = 0; batch < 20; batch++) {
      const opened = await Promise.all(Array.from({ length: 250 }, () => open(gateway.mqttPort!)));
      for (const socket of opened) socket.on("error", () => {});
      sockets.push(...opened);
    }
    // Meanwhile a device on another address logs in as usual.
    const other = await TestMqttClient.connect(gateway.mqttPort!, "other", login("other"), { localAddress: "127.0.0.2" });
    await other.end();
    await within("every half-open socket to be closed", Promise.all(sockets.map(closed)), 10_000);
    clearInterval(sample);
    const mqttStats = gateway.stats().mqtt!;
    // 50 from the attacker's address, plus the one device from 127.0.0.2 while it logs in.
    assert.ok(most <= 50 + 1, `at most ${most} unauthenticated connections held`);
    const refused = mqttStats.refusedByReason["too-many-unauthenticated-from-address"];
    assert.ok(refused >= 4000, `${refused} refused at accept`);
    assert.is(refused + mqttStats.refusedByReason["connect-timeout"], 5000, "every one was refused at accept or closed at the deadline");
    await waitFor("the gateway to hold none of them", () => gateway.stats().mqtt!.unauthenticated === 0);
    assertServed(await honest.stop());
  });
});

test("connections in all and per address are capped: the one over is closed at accept, counted", async () => {
  await withGateway({ mqttLimits: { maxConnections: 3, maxConnectionsPerAddress: 2 } }, async (gateway) => {
    const honest = await HonestDevice.start(gateway.mqttPort!, login("honest"));
    const second = await TestMqttClient.connect(gateway.mqttPort!, "other", login("other"));
    const third = await open(gateway.mqttPort!);
    third.on("error", () => {});
    await within("the third from 127.0.0.1 to be refused", closed(third));
    const elsewhere = await TestMqttClient.connect(gateway.mqttPort!, "attacker", login("attacker"), { localAddress: "127.0.0.3" });
    const fourth = await open(gateway.mqttPort!, "127.0.0.4");
    fourth.on("error", () => {});
    await within("the fourth in all to be refused", closed(fourth));
    const refused = gateway.stats().mqtt!.refusedByReason;
    assert.equal([refused["too-many-from-address"], refused["too-many-connections"]], [1, 1]);
    await second.end();
    await elsewhere.end();
    // A place is free again.
    await waitFor("the closed connections to be released", () => gateway.stats().mqtt!.connections === 1);
    const again = await TestMqttClient.connect(gateway.mqttPort!, "other", login("other"));
    await again.end();
    assertServed(await honest.stop());
  });
});

test.run();
