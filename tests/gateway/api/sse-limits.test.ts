/*
 * The local API's event streams under abuse, through real sockets: caps in
 * all and per address refuse the surplus before a stream exists (503, 429,
 * counted in /metrics); a crowd of streams, half never reading, is bounded
 * in memory, its non-readers dropped and counted, while a device's PUBACKs
 * keep coming (each within a generous 1 s), and the memory goes back to
 * idle once they leave. Client addresses 127.0.0.2... are loopback too.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { connect, type Socket } from "node:net";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { uplinkTopic } from "../../../hosts/gateway/ingest/ingest.js";
import { obsPayload } from "../../support/gateway-records.js";
import { startApiGateway } from "../../support/gateway-api.js";
import { observation, waitFor, within } from "../../support/test-helpers.js";

const STREAM = "/api/v1/observations/stream";

interface Client {
  status: number;
  socket: Socket;
  closed: Promise<void>;
}

/**
 * A stream request over a raw socket from `localAddress`: the answer's
 * status is read from its first chunk; a non-reader then pauses the socket
 * for good, so the kernel's buffers fill and the gateway's queue with them.
 */
function openStream(port: number, query: string, localAddress: string, reads: boolean): Promise<Client> {
  const socket = connect({ port, host: "127.0.0.1", localAddress });
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.write(`GET ${STREAM}${query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  return within(`a stream answer for ${localAddress}`, new Promise<Client>((resolve) => {
    socket.once("data", (chunk: Buffer) => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(chunk.toString("latin1"))?.[1] ?? 0);
      if (!reads) socket.pause();
      resolve({ status, socket, closed });
    });
  }), 20_000);
}

function metric(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? NaN : Number(line.split(" ").at(-1));
}

test("caps: the surplus from one address gets 429, past the total 503, before a stream exists; a closed stream frees its place", async () => {
  const t = await startApiGateway(["s-1"], { sseLimits: { maxClients: 4, maxClientsPerAddress: 2 } });
  const clients: Client[] = [];
  const open = async (address: string) => {
    const client = await openStream(t.gateway.httpPort!, "", address, true);
    clients.push(client);
    return client.status;
  };
  try {
    assert.equal([await open("127.0.0.2"), await open("127.0.0.2")], [200, 200]);
    assert.is(await open("127.0.0.2"), 429, "this address holds its 2");
    assert.equal([await open("127.0.0.3"), await open("127.0.0.3")], [200, 200]);
    assert.is(await open("127.0.0.4"), 503, "the gateway holds its 4");
    await waitFor("4 streams", () => t.gateway.stats().http.sseClients === 4);
    clients[0].socket.destroy();
    await waitFor("the closed stream to be forgotten", () => t.gateway.stats().http.sseClients === 3);
    assert.is(await open("127.0.0.4"), 200, "its place is free again");
    const device = await t.device("s-1");
    await t.publish(device, [1]);
    const text = await (await fetch(`${t.base}/metrics`)).text();
    assert.is(metric(text, 'xsedge_http_sse_refused_total{limit="maxClientsPerAddress"}'), 1);
    assert.is(metric(text, 'xsedge_http_sse_refused_total{limit="maxClients"}'), 1);
    assert.is(metric(text, "xsedge_http_sse_max_clients"), 4);
    assert.is(metric(text, "xsedge_http_sse_max_clients_per_address"), 2);
  } finally {
    clients.forEach((client) => client.socket.destroy());
    await t.done();
  }
});

/** The heap and array buffers after a full collection: what the gateway holds, not what it has not yet freed. */
function heldBytes(gc: () => void): number {
  gc();
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

test("300 streams from 30 addresses, half never reading: capped, bounded, non-readers dropped, each PUBACK within 1 s, memory back to idle after", async () => {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const STALL_MS = 1000;
  const t = await startApiGateway(["s-1"], { sseStallMs: STALL_MS });
  const clients: Array<Client & { reads: boolean; text: string }> = [];
  const open = (query: string, address: string, reads: boolean) =>
    openStream(t.gateway.httpPort!, query, address, reads).then((client) => {
      const kept = Object.assign(client, { reads, text: "" });
      if (reads) client.socket.on("data", (chunk: Buffer) => (kept.text = (kept.text + chunk.toString("utf8")).slice(-4096)));
      clients.push(kept);
    });
  try {
    // A backlog far larger than the loopback's socket buffers: a stream that asks for it and does not read fills them.
    const BACKLOG = 50_000;
    t.gateway.store.transaction(() => {
      for (let seq = 1; seq <= BACKLOG; seq++) t.gateway.store.append(observation("s-old", seq), Date.now());
    });
    const device = await t.device("s-1");
    await t.publish(device, [1]);
    const idle = heldBytes(gc);

    const { maxClients, maxBufferedBytes } = t.gateway.stats().http.sseLimits;
    // Two that take the backlog and stop reading, then 298 following live, every other one never reading.
    await Promise.all([open("?after=0", "127.0.0.40", false), open("?after=0", "127.0.0.41", false)]);
    const crowd = Promise.all(Array.from({ length: 298 }, (_, i) => open("", `127.0.0.${2 + (i % 30)}`, i % 2 === 0)));
    // Awaited after the publishes; a failure meanwhile must fail the test, not the process.
    crowd.catch(() => {});
    const latencies: number[] = [];
    let [peakBuffered, peakClients] = [0, 0];
    for (let seq = 2; seq <= 51; seq++) {
      const sent = performance.now();
      await device.puback(device.publish(uplinkTopic("s-1"), obsPayload("s-1", seq, 1, 20)));
      latencies.push(performance.now() - sent);
      const { sseBufferedBytes, sseClients } = t.gateway.stats().http;
      [peakBuffered, peakClients] = [Math.max(peakBuffered, sseBufferedBytes), Math.max(peakClients, sseClients)];
    }
    await crowd;
    await waitFor("the two that stopped reading to be dropped", () => t.gateway.stats().http.sseStalled === 2, 20 * STALL_MS);
    const worst = Math.max(...latencies);
    assert.ok(worst < 1000, `every PUBACK within 1 s while the streams ran (worst ${worst.toFixed(0)} ms)`);
    const admitted = clients.filter((c) => c.status === 200).length;
    assert.ok(peakClients <= maxClients && admitted <= maxClients + 2, `the cap holds (${admitted} admitted, at most ${peakClients} at once)`);
    assert.is(clients.filter((c) => c.status === 503).length, 300 - admitted, "the rest are refused at the door");
    assert.is(t.gateway.stats().http.sseRefused.maxClients, 300 - admitted);
    await waitFor("the readers to have the last observation", () => clients.some((c) => c.reads && c.status === 200 && c.text.includes('"seq":51')));
    // A queue holds at most its cap plus one page (about 150 kB of observations) before it waits.
    assert.ok(peakBuffered <= maxClients * (maxBufferedBytes + 200_000), `${peakBuffered} bytes queued at the peak`);

    clients.forEach((client) => client.socket.destroy());
    await waitFor("every stream to be forgotten", () => t.gateway.stats().http.sseClients === 0);
    assert.is(t.gateway.stats().http.sseBufferedBytes, 0);
    const after = heldBytes(gc);
    assert.ok(after - idle < 8 * 2 ** 20, `back to idle: ${((after - idle) / 2 ** 20).toFixed(1)} MiB more than before the streams`);
    await t.publish(device, [52]);
  } finally {
    clients.forEach((client) => client.socket.destroy());
    await t.done();
  }
});

test("a stopping gateway cuts off a stream that does not read rather than wait for it", async () => {
  const t = await startApiGateway(["s-1"]);
  let client: Client | undefined;
  try {
    t.gateway.store.transaction(() => {
      for (let seq = 1; seq <= 50_000; seq++) t.gateway.store.append(observation("s-old", seq), Date.now());
    });
    client = await openStream(t.gateway.httpPort!, "?after=0", "127.0.0.2", false);
    // The kernel's buffers are full and the gateway's queue holds the rest: the stall timeout (30 s) is far off.
    await waitFor("data queued for the client", () => t.gateway.stats().http.sseBufferedBytes > 0, 20_000);
    await within("the gateway to close", t.gateway.close());
    // The end is behind the data the kernel still holds for it: it sees it once it reads.
    client.socket.resume();
    await within("the client's connection to end", client.closed);
  } finally {
    client?.socket.destroy();
    await t.done();
  }
});

test.run();
