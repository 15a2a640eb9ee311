import { test } from "uvu";
import * as assert from "uvu/assert";
import { connect } from "node:net";
import { SseReader } from "../../support/cloud-sse.js";
import { startApiGateway } from "../../support/gateway-api.js";
import { observation, waitFor, within } from "../../support/test-helpers.js";

const STREAM = "/api/v1/observations/stream";

test("the stream sends observations live as they are committed, id = the store's row id, not older ones", async () => {
  const t = await startApiGateway(["s-1"]);
  try {
    const device = await t.device("s-1");
    await t.publish(device, [1, 2]);
    const reader = await SseReader.open(t.base + STREAM);
    assert.match(String(reader.response.headers["content-type"]), /^text\/event-stream/);
    await t.publish(device, [3, 4]);
    const events = await reader.next(2);
    assert.equal(events.map((e) => e.id), ["3", "4"]);
    const data = JSON.parse(events[0].data);
    assert.equal([data.id, data.sensorId, data.seq, data.readings[0].value], [3, "s-1", 3, 20.3]);
    await waitFor("the stream to be counted", () => t.gateway.stats().http.sseClients === 1);
    reader.close();
    await waitFor("the closed stream to be forgotten", () => t.gateway.stats().http.sseClients === 0);
  } finally {
    await t.done();
  }
});

test("a client that reconnects with Last-Event-ID gets exactly the events it missed, then live ones", async () => {
  const t = await startApiGateway(["s-1", "s-2"]);
  try {
    const one = await t.device("s-1");
    const two = await t.device("s-2");
    const first = await SseReader.open(t.base + STREAM);
    await t.publish(one, [1, 2]);
    const seen = await first.next(2);
    first.close();
    await waitFor("the first stream to close", () => t.gateway.stats().http.sseClients === 0);
    await t.publish(two, [1, 2]);
    await t.publish(one, [3]);
    const second = await SseReader.open(t.base + STREAM, { "last-event-id": seen[1].id as string });
    const missed = await second.next(3);
    assert.equal(missed.map((e) => [e.id, JSON.parse(e.data).sensorId, JSON.parse(e.data).seq]), [
      ["3", "s-2", 1],
      ["4", "s-2", 2],
      ["5", "s-1", 3],
    ]);
    await t.publish(two, [3]);
    const all = await second.next(4);
    assert.is(all[3].id, "6");
    // ?after= does the same for a first connection.
    const third = await SseReader.open(`${t.base}${STREAM}?after=4`);
    assert.equal((await third.next(2)).map((e) => e.id), ["5", "6"]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.is(second.events.length, 4, "no event twice");
    second.close();
    third.close();
  } finally {
    await t.done();
  }
});

test("a bad Last-Event-ID is a 400 naming it", async () => {
  const t = await startApiGateway(["s-1"]);
  try {
    const response = await fetch(t.base + STREAM, { headers: { "last-event-id": "abc" } });
    assert.is(response.status, 400);
    assert.match(((await response.json()) as { error: string }).error, /^Last-Event-ID must be an integer from 0 to \d+, got "abc"$/);
  } finally {
    await t.done();
  }
});

test("a client that stops reading is disconnected and counted, and the others keep streaming", async () => {
  const t = await startApiGateway(["s-1"], { sseStallMs: 200 });
  try {
    // A backlog far larger than the socket buffers of the loopback (a few MB), stored directly in one commit.
    const BACKLOG = 50_000;
    t.gateway.store.transaction(() => {
      for (let seq = 1; seq <= BACKLOG; seq++) t.gateway.store.append(observation("s-old", seq), Date.now());
    });
    // Sends the request and never reads: Node stops reading a paused socket once its buffer is full.
    const stalled = connect(t.gateway.httpPort as number, "127.0.0.1");
    const stalledClosed = new Promise<void>((resolve) => stalled.once("close", () => resolve()));
    stalled.on("error", () => {});
    stalled.write(`GET ${STREAM}?after=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    stalled.pause();
    const reader = await SseReader.open(`${t.base}${STREAM}?after=${BACKLOG - 5}`);
    assert.equal((await reader.next(5)).map((e) => e.id), ["49996", "49997", "49998", "49999", "50000"]);
    await waitFor("the stalled client to be cut off", () => t.gateway.stats().http.sseStalled === 1);
    // Its socket ends after the data already in flight (the close waits behind it).
    stalled.resume();
    await within("the stalled socket to close", stalledClosed);
    await t.publish(await t.device("s-1"), [1]);
    const live = await reader.next(6);
    assert.is(JSON.parse(live[5].data).sensorId, "s-1", "the reading client still gets live events");
    assert.is(t.gateway.stats().http.sseClients, 1);
    reader.close();
  } finally {
    await t.done();
  }
});

test.run();
