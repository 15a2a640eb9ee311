/*
 * The network between devices and the gateway: the link model (pure), the
 * virtual network seen from a device's own TCP socket on the virtual clock
 * (latency, refused connects, partitions, resets), and real sockets held
 * through a partition. The device is a small app bundle that traces what
 * its socket sees, with its clock.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createServer, type Socket } from "node:net";
import { FleetEngine } from "../../simulator/fleet/fleet-engine.js";
import { VirtualDriver } from "../../simulator/fleet/virtual-driver.js";
import { CONNECT_TIMEOUT_MS, LinkDirection, MAX_RETRANSMITS, PARTITION_RESET_MS, RETRANSMIT_MS } from "../../simulator/network/link-conditions.js";
import { VirtualNetwork, type VirtualEndpoint } from "../../simulator/network/virtual-network.js";
import { startRecordedFleet, writeBundle } from "../support/fleet.js";
import { tempDir, waitFor } from "../support/test-helpers.js";

const PINGER = `
import TCP from "embedded:io/socket/tcp";
import config from "mc/config";
export default function main() {
  trace("start " + Date.now() + "\\n");
  new TCP({
    address: config.address,
    port: config.port,
    onWritable(count) { if (this.sent) return; this.sent = true; this.write(ArrayBuffer.fromString("ping")); trace("writable " + count + " " + Date.now() + "\\n"); },
    onReadable() { trace("data " + String.fromArrayBuffer(this.read()) + " " + Date.now() + "\\n"); },
    onError(reason) { trace("error " + reason + " " + Date.now() + "\\n"); },
  });
}
`;

test("the link model delivers in order, resends lost segments after doubling timeouts, and gives up after too many", () => {
  const link = new LinkDirection(1, 1);
  let last = -Infinity;
  for (let i = 0; i < 500; i++) {
    const arrival = link.deliver(i, { latencyMs: 10, jitterMs: 50, loss: 0, partitioned: false });
    assert.ok("at" in arrival && arrival.at >= last && arrival.at >= i + 10 && arrival.at <= i + 60 + 50, "in order, within latency and jitter");
    last = (arrival as { at: number }).at;
  }
  const lossy = new LinkDirection(2, 1);
  const delays = Array.from({ length: 2000 }, (_, i) => {
    const arrival = lossy.deliver(i * 100_000, { latencyMs: 5, jitterMs: 0, loss: 0.2, partitioned: false });
    return "at" in arrival ? arrival.at - i * 100_000 - 5 : -1;
  });
  const resent = delays.filter((d) => d > 0);
  assert.ok(Math.abs(resent.length / delays.length - 0.2) < 0.03, `${resent.length} of 2000 resent at loss 0.2`);
  assert.ok(resent.every((d) => [1, 3, 7, 15].map((k) => k * RETRANSMIT_MS).includes(d)), "after 200, 600, 1400 ms…: doubling timeouts");
  const hopeless = new LinkDirection(3, 1).deliver(0, { latencyMs: 5, jitterMs: 0, loss: 0.999, partitioned: false });
  assert.match("reset" in hopeless ? hopeless.reset : "", new RegExp(`${MAX_RETRANSMITS} retransmissions lost`));
  const again = new LinkDirection(2, 1);
  assert.equal(Array.from({ length: 50 }, (_, i) => JSON.stringify(again.deliver(i * 100_000, { latencyMs: 5, jitterMs: 0, loss: 0.2, partitioned: false }))).length, 50);
});

async function virtualPinger(endpoint: VirtualEndpoint | undefined, conditions = { latencyMs: 7, jitterMs: 0, loss: 0, partitioned: false }) {
  const dir = tempDir("net-apps");
  const app = writeBundle(dir.path, "pinger.js", PINGER);
  const driver = new VirtualDriver({ lookaheadMs: 1 });
  const network = new VirtualNetwork(driver, conditions);
  if (endpoint) network.listen("10.9.9.9", 7, endpoint);
  const lines: string[] = [];
  const engine = await FleetEngine.start({ devices: [{ sensorId: "p-1", app, parts: [], config: { address: "10.9.9.9", port: 7 } }], driver, network, events: { trace: (_d, line) => lines.push(line) } });
  network.bind(engine);
  const start = driver.now();
  const since = () => lines.map((l) => l.replace(/ (\d+)$/, (_, t) => ` +${Number(t) - start}`));
  return { engine, driver, network, lines: since, done: async () => { await engine.close(); dir.remove(); } };
}

const echo: VirtualEndpoint = { accept: (link) => ({ data: (bytes) => link.send(Uint8Array.from([...bytes].reverse())), closed: () => {} }) };

test("on the virtual clock a connection takes a round trip, a reply another, and the device's window comes back with the reply", async () => {
  const w = await virtualPinger(echo);
  try {
    w.engine.powerOn(w.engine.devices[0]);
    await w.driver.runUntil(w.driver.now() + 1000);
    assert.equal(w.lines(), ["start +0", "writable 16384 +14", "data gnip +28"]);
  } finally {
    await w.done();
  }
});

test("nothing listening refuses at once; a partition makes a connect time out and a cut connection reset", async () => {
  const refused = await virtualPinger(undefined);
  try {
    refused.engine.powerOn(refused.engine.devices[0]);
    await refused.driver.runUntil(refused.driver.now() + 1000);
    assert.equal(refused.lines(), ["start +0", "error ECONNREFUSED: connect to 10.9.9.9:7 refused +14"]);
  } finally {
    await refused.done();
  }
  const cut = await virtualPinger(echo);
  try {
    const device = cut.engine.devices[0];
    cut.engine.setNetwork(device, false);
    cut.engine.powerOn(device);
    await cut.driver.runUntil(cut.driver.now() + CONNECT_TIMEOUT_MS + 100);
    assert.equal(cut.lines(), ["start +0", `error connect ETIMEDOUT (network partition) +${CONNECT_TIMEOUT_MS}`]);
  } finally {
    await cut.done();
  }
  // Connected, then cut: what it writes is held, and past the bound the connection is reset.
  const silent: VirtualEndpoint = { accept: () => ({ data: () => {}, closed: () => {} }) };
  const held = await virtualPinger(silent);
  try {
    const device = held.engine.devices[0];
    held.engine.powerOn(device);
    await held.driver.runUntil(held.driver.now() + 10);
    held.engine.setNetwork(device, false);
    await held.driver.runUntil(held.driver.now() + PARTITION_RESET_MS + 1000);
    assert.match(held.lines().at(-1)!, /^error connection timed out \(network partition\) \+\d+$/);
    assert.is(held.network.stats.resets, 1);
  } finally {
    await held.done();
  }
});

test("the server going away resets its connections: the device hears it a latency later", async () => {
  const w = await virtualPinger(echo);
  try {
    w.engine.powerOn(w.engine.devices[0]);
    await w.driver.runUntil(w.driver.now() + 100);
    w.network.resetEndpoint(echo);
    await w.driver.runUntil(w.driver.now() + 100);
    assert.equal(w.lines().at(-1), "error connection reset by peer +107");
  } finally {
    await w.done();
  }
});

test("real sockets: a partition holds the device's bytes both ways, and they go on when it heals", async () => {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("data", (data) => socket.write(Buffer.from([...data].reverse())));
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const dir = tempDir("net-apps");
  const app = writeBundle(dir.path, "pinger.js", PINGER);
  const fleet = await startRecordedFleet([{ sensorId: "r-1", app, parts: [], config: { address: "127.0.0.1", port } }], { workers: 1 });
  try {
    const device = fleet.device("r-1");
    fleet.engine.powerOn(device);
    await waitFor("the echo", () => fleet.tracesOf("r-1").some((l) => l.startsWith("data gnip")));
    // Cut it, and have the server speak: nothing reaches the device until it heals.
    fleet.engine.setNetwork(device, false);
    for (const socket of sockets) socket.write("olleh");
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.not.ok(fleet.tracesOf("r-1").some((l) => l.startsWith("data hello")), "held while partitioned");
    fleet.engine.setNetwork(device, true);
    await waitFor("the held bytes after the heal", () => fleet.tracesOf("r-1").some((l) => l.startsWith("data olleh")));
  } finally {
    await fleet.engine.close();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    dir.remove();
  }
});

test.run();
