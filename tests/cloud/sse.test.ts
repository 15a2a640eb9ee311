import { test } from "uvu";
import { CONSUMER_TOKEN, TEST_CREDENTIALS, authHeader } from "../support/cloud-access.js";
import * as assert from "uvu/assert";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import { startCloud, type Cloud } from "../../simulator/cloud/server.js";
import { call } from "../support/cloud-http.js";
import { SseReader } from "../support/cloud-sse.js";
import { observation, tempDir, within } from "../support/test-helpers.js";

async function withCloud(run: (cloud: Cloud) => Promise<void>): Promise<void> {
  const dir = tempDir("cloud-sse");
  const cloud = await startCloud({ credentials: TEST_CREDENTIALS, port: 0, grpcPort: 0, dataDir: dir.path, logger: createMemoryLogger() });
  try {
    await run(cloud);
  } finally {
    await within("cloud close", cloud.close());
    dir.remove();
  }
}

function post(cloud: Cloud, from: number, to: number) {
  const observations = [];
  for (let seq = from; seq <= to; seq++) observations.push(observation("s-1", seq));
  return call(cloud.url, "POST", "/api/v1/observations", { observations });
}

test("the stream delivers newly stored observations live, with id = offset, and not older ones", async () => {
  await withCloud(async (cloud) => {
    await post(cloud, 1, 2);
    const reader = await SseReader.open(`${cloud.url}/api/v1/observations/stream`, authHeader(CONSUMER_TOKEN));
    assert.match(String(reader.response.headers["content-type"]), /text\/event-stream/);
    await post(cloud, 3, 4);
    await post(cloud, 4, 5);
    const events = await reader.next(3);
    assert.equal(events.map((e) => e.id), ["3", "4", "5"]);
    const data = JSON.parse(events[0].data);
    assert.is(data.seq, 3);
    assert.equal([data.readings[0].unit, data.time, data.timeSource], ["Cel", null, null], "the same shape as the paging API");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.is(reader.events.length, 3, "a duplicate is not an event");
    reader.close();
  });
});

test("a reconnecting client resumes after its Last-Event-ID without gaps or repeats", async () => {
  await withCloud(async (cloud) => {
    const first = await SseReader.open(`${cloud.url}/api/v1/observations/stream`, authHeader(CONSUMER_TOKEN));
    await post(cloud, 1, 3);
    const seen = await first.next(3);
    first.close();
    await post(cloud, 4, 6);
    const resumed = await SseReader.open(`${cloud.url}/api/v1/observations/stream`, { ...authHeader(CONSUMER_TOKEN), "last-event-id": String(seen[1].id) });
    await post(cloud, 7, 7);
    const events = await resumed.next(5);
    assert.equal(events.map((e) => JSON.parse(e.data).seq), [3, 4, 5, 6, 7]);
    resumed.close();
  });
});

test("?after= replays from an offset, and a bad Last-Event-ID is refused with 400", async () => {
  await withCloud(async (cloud) => {
    await post(cloud, 1, 4);
    const reader = await SseReader.open(`${cloud.url}/api/v1/observations/stream?after=2`, authHeader(CONSUMER_TOKEN));
    const events = await reader.next(2);
    assert.equal(events.map((e) => e.id), ["3", "4"]);
    reader.close();
    const bad = await SseReader.open(`${cloud.url}/api/v1/observations/stream`, { ...authHeader(CONSUMER_TOKEN), "last-event-id": "banana" });
    assert.is(bad.response.statusCode, 400);
    bad.close();
  });
});

test("a backlog larger than one page is streamed whole and in order", async () => {
  await withCloud(async (cloud) => {
    for (let from = 1; from <= 1200; from += 400) await post(cloud, from, from + 399);
    const reader = await SseReader.open(`${cloud.url}/api/v1/observations/stream?after=0`, authHeader(CONSUMER_TOKEN));
    const events = await reader.next(1200);
    assert.ok(events.every((e, i) => e.id === String(i + 1)));
    reader.close();
  });
});

test("closing the cloud ends open streams instead of waiting on them", async () => {
  const dir = tempDir("cloud-sse");
  const cloud = await startCloud({ credentials: TEST_CREDENTIALS, port: 0, grpcPort: 0, dataDir: dir.path, logger: createMemoryLogger() });
  const reader = await SseReader.open(`${cloud.url}/api/v1/observations/stream`, authHeader(CONSUMER_TOKEN));
  const ended = new Promise((resolve) => reader.response.once("close", resolve));
  await within("cloud close with an open stream", cloud.close(), 2000);
  await within("the stream to end", ended);
  dir.remove();
});

test.run();
