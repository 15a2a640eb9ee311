/*
 * The Akka stand-in's producer side through a grpc-js client built from its
 * own protos: Register, EventsBySlices (replay, live, offsets, slices,
 * filters), backtracking with LoadEvent and EventTimestamp, refusals, fault
 * switches, and a journal that survives a restart.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { status } from "@grpc/grpc-js";
import { withStandin } from "../support/akka-standin/fixture.js";
import { decodeRegistered, REGISTERED_TYPE_URL } from "../support/akka-standin/protos.js";
import { sliceOf } from "../support/akka-standin/slice.js";
import { startAkkaStandin } from "../support/akka-standin/standin.js";
import { standinClients, type StandinClients } from "../support/akka-standin/client.js";
import { StreamRecorder } from "../support/akka-standin/stream-recorder.js";
import type { Event, InitReq, Offset, StreamIn, StreamOut } from "../support/akka-standin/wire.js";
import { quietLogger, tempDir, waitFor, within } from "../support/test-helpers.js";

const STREAM = "registration-events";
/** A clock that never moves: the journal must still give every event a later timestamp. */
const STALLED = () => 1_700_000_000_000_000;

function open(clients: StandinClients, init: Partial<InitReq> = {}, first?: StreamIn) {
  const stream = clients.eventsBySlices();
  const recorder = new StreamRecorder<StreamOut>(stream);
  stream.write(first ?? { init: { stream_id: STREAM, slice_min: 0, slice_max: 1023, offset: [], filter: [], ...init } });
  return { stream, recorder };
}

const events = (messages: StreamOut[]): Event[] => messages.map((m) => m.event!).filter(Boolean);
const ids = (messages: StreamOut[]) => messages.map((m) => `${(m.event ?? m.filtered_event)!.persistence_id}#${(m.event ?? m.filtered_event)!.seq_nr}`);
const nanosOf = (e: Event) => BigInt(e.offset[0].timestamp!.seconds) * 1_000_000_000n + BigInt(e.offset[0].timestamp!.nanos);

test("replays every registration in journal order, then pushes new ones live, with Akka's event fields", () => withStandin({ nowUs: STALLED }, async (_standin, clients) => {
  await clients.register("a", "secret-a-1");
  await clients.register("b", "secret-b");
  await clients.register("a", "secret-a-2");
  const { stream, recorder } = open(clients);
  assert.equal(ids(await recorder.count(3)), ["Registration|a#1", "Registration|b#1", "Registration|a#2"]);
  await clients.register("ü|7", "secret-u");
  const all = events(await recorder.count(4));
  assert.equal(ids(recorder.messages), ["Registration|a#1", "Registration|b#1", "Registration|a#2", "Registration|ü|7#1"]);
  assert.equal(all.map((e) => decodeRegistered(e.payload!.value)), ["secret-a-1", "secret-b", "secret-a-2", "secret-u"]);
  for (const [i, e] of all.entries()) {
    assert.is(e.payload!.type_url, REGISTERED_TYPE_URL);
    assert.is(e.slice, sliceOf(e.persistence_id));
    assert.is(e.source, "");
    assert.equal(e.offset[0].seen, [{ persistence_id: e.persistence_id, seq_nr: e.seq_nr }]);
    assert.ok(e.offset[0].timestamp!.nanos < 1e9, "nanos is the sub-second part");
    if (i > 0) assert.ok(nanosOf(e) > nanosOf(all[i - 1]), "timestamps increase strictly even on a stalled clock");
  }
  stream.cancel();
}));

test("resumes after an offset: at its timestamp only what was not seen, after it everything", () => withStandin({}, async (standin, clients) => {
  ["a", "b", "c"].forEach((id) => standin.register(id, `secret-${id}`));
  const replayed = events(await open(clients).recorder.count(3));
  const offset = (seen: boolean): Offset => ({ timestamp: replayed[1].offset[0].timestamp, seen: seen ? replayed[1].offset[0].seen : [] });
  const afterSeen = open(clients, { offset: [offset(true)] });
  const atUnseen = open(clients, { offset: [offset(false)] });
  standin.register("d", "secret-d");
  // Events arrive in order, so once d is there nothing else is on its way.
  assert.equal(ids(await afterSeen.recorder.count(2)), ["Registration|c#1", "Registration|d#1"]);
  assert.equal(ids(await atUnseen.recorder.count(3)), ["Registration|b#1", "Registration|c#1", "Registration|d#1"]);
  await waitFor("d on the first stream", () => afterSeen.recorder.messages.length === 2);
  afterSeen.stream.cancel();
  atUnseen.stream.cancel();
}));

test("a stream gets only the events of its slice range", () => withStandin({}, async (standin, clients) => {
  const sensors = Array.from({ length: 20 }, (_, i) => `${i}-sensor`);
  sensors.forEach((id) => standin.register(id, "secret"));
  const low = open(clients, { slice_min: 0, slice_max: 511 });
  const high = open(clients, { slice_min: 512, slice_max: 1023 });
  const isLow = (id: string) => sliceOf(`Registration|${id}`) <= 511;
  const lowSentinel = Array.from({ length: 100 }, (_, i) => `low-${i}`).find(isLow)!;
  const highSentinel = Array.from({ length: 100 }, (_, i) => `high-${i}`).find((id) => !isLow(id))!;
  standin.register(lowSentinel, "secret");
  standin.register(highSentinel, "secret");
  const expect = (ranged: boolean) => [...sensors.filter((id) => isLow(id) === ranged), ranged ? lowSentinel : highSentinel].map((id) => `Registration|${id}#1`);
  assert.ok(expect(true).length > 1 && expect(false).length > 1, "both ranges hold several sensors");
  await low.recorder.count(expect(true).length);
  await high.recorder.count(expect(false).length);
  await waitFor("the sentinels", () => ids(low.recorder.messages).at(-1) === expect(true).at(-1) && ids(high.recorder.messages).at(-1) === expect(false).at(-1));
  assert.equal(ids(low.recorder.messages), expect(true));
  assert.equal(ids(high.recorder.messages), expect(false));
  low.stream.cancel();
  high.stream.cancel();
}));

test("backtracking events come without payload; LoadEvent fetches them, EventTimestamp dates them", () => withStandin({ switches: { backtrackEvery: 2 } }, async (standin, clients) => {
  ["a", "b", "c", "d"].forEach((id) => standin.register(id, `secret-${id}`));
  const { stream, recorder } = open(clients);
  const sent = events(await recorder.count(4));
  assert.equal(sent.map((e) => e.source), ["", "BT", "", "BT"]);
  assert.equal(sent.map((e) => e.payload === null), [false, true, false, true]);
  const loaded = await clients.loadEvent(STREAM, "Registration|b", 1);
  assert.is(decodeRegistered(loaded.event!.payload!.value), "secret-b");
  assert.is(loaded.event!.source, "");
  assert.equal(loaded.event!.offset, sent[1].offset);
  assert.equal((await clients.eventTimestamp(STREAM, "Registration|d", 1)).timestamp, sent[3].offset[0].timestamp);
  assert.is((await clients.eventTimestamp(STREAM, "Registration|d", 2)).timestamp, null);
  const missing = await clients.loadEvent(STREAM, "Registration|b", 2).catch((e) => e);
  assert.is(missing.code, status.NOT_FOUND);
  assert.match(missing.details, /Registration\|b.*seq_nr 2/);
  assert.is((await clients.loadEvent("temperature-events", "Registration|b", 1).catch((e) => e)).code, status.NOT_FOUND);
  assert.is(standin.counters().backtracking_sent, 2);
  stream.cancel();
}));

test("refuses a first message that is not InitReq (INVALID_ARGUMENT) and an unknown stream id (NOT_FOUND)", () => withStandin({}, async (standin, clients) => {
  const notInit = open(clients, {}, { filter: { criteria: [] } });
  assert.is((await notInit.recorder.failure()).code, status.INVALID_ARGUMENT);
  assert.match(notInit.recorder.error!.details, /first message of EventsBySlices must be InitReq, not filter/);
  const unknown = open(clients, { stream_id: "sensor-events" });
  assert.is((await unknown.recorder.failure()).code, status.NOT_FOUND);
  const totalNanos = open(clients, { offset: [{ timestamp: { seconds: 0, nanos: 1_500_000_000 }, seen: [] }] });
  assert.is((await totalNanos.recorder.failure()).code, status.INVALID_ARGUMENT);
  assert.is(standin.counters().rejected, 3);
  const registerEmpty = await clients.register("", "secret").catch((e) => e);
  assert.is(registerEmpty.code, status.INVALID_ARGUMENT);
}));

test("a failure inside the stand-in is answered INTERNAL with its cause, not a crash or a hung call", async () => {
  let clockBroken = false;
  const nowUs = () => {
    if (clockBroken) throw new Error("the clock broke");
    return STALLED();
  };
  await withStandin({ nowUs }, async (_standin, clients) => {
    await clients.register("a", "secret-a");
    clockBroken = true;
    const failed = await clients.register("b", "secret-b").catch((e) => e);
    assert.is(failed.code, status.INTERNAL);
    assert.match(failed.details, /the stand-in failed: the clock broke/);
    clockBroken = false;
    await clients.register("b", "secret-b");
  });
});

test("filters announce excluded events as FilteredEvent; IncludeEntityIds and ReplayReq replay; topics are UNIMPLEMENTED", () => withStandin({}, async (standin, clients) => {
  ["a", "b"].forEach((id) => standin.register(id, `secret-${id}`));
  const { stream, recorder } = open(clients, { filter: [{ exclude_entity_ids: { entity_ids: ["b"] } }] });
  await recorder.count(2);
  assert.ok(recorder.messages[0].event && recorder.messages[1].filtered_event);
  stream.write({ filter: { criteria: [{ include_entity_ids: { entity_id_offset: [{ entity_id: "b", seq_nr: 1 }] } }] } });
  stream.write({ replay: { persistence_id_offset: [{ persistence_id: "Registration|a", seq_nr: 1 }] } });
  await recorder.count(4);
  assert.equal(ids(recorder.messages), ["Registration|a#1", "Registration|b#1", "Registration|b#1", "Registration|a#1"]);
  assert.ok(recorder.messages[2].event && recorder.messages[3].event, "both replays are whole events");
  stream.write({ filter: { criteria: [{ include_topics: { expression: ["t/#"] } }] } });
  assert.is((await recorder.failure()).code, status.UNIMPLEMENTED);
}));

test("fault switches: the next N calls answer UNAVAILABLE; a stream is reset after N events; close ends open streams", () => withStandin({ switches: { unavailableCalls: 2 } }, async (standin, clients) => {
  ["a", "b", "c"].forEach((id) => standin.register(id, `secret-${id}`));
  assert.is((await open(clients).recorder.failure()).code, status.UNAVAILABLE);
  assert.is((await clients.loadEvent(STREAM, "Registration|a", 1).catch((e) => e)).code, status.UNAVAILABLE);
  assert.ok((await clients.loadEvent(STREAM, "Registration|a", 1)).event);
  standin.switches.set({ resetAfterEvents: 2 });
  const reset = open(clients);
  assert.is((await reset.recorder.failure()).code, status.INTERNAL);
  assert.equal(ids(reset.recorder.messages), ["Registration|a#1", "Registration|b#1"]);
  standin.switches.set({ resetAfterEvents: null });
  const live = open(clients);
  await live.recorder.count(3);
  await within("close", standin.close());
  assert.is((await live.recorder.failure()).code, status.UNAVAILABLE);
}));

test("the journal survives a restart: same events and timestamps; seq_nr and time go on from there", async () => {
  const dir = tempDir("akka-standin-restart");
  try {
    let before: StreamOut[] = [];
    await withStandin({ dataDir: dir.path }, async (standin, clients) => {
      ["a", "b"].forEach((id) => standin.register(id, `secret-${id}`));
      before = await open(clients).recorder.count(2);
    });
    const standin = await startAkkaStandin({ dataDir: dir.path, logger: quietLogger() });
    const clients = standinClients(standin.port);
    try {
      const { stream, recorder } = open(clients);
      assert.equal(await recorder.count(2), before);
      await clients.register("a", "secret-a-2");
      const [, , again] = events(await recorder.count(3));
      assert.is(again.seq_nr, 2);
      assert.ok(nanosOf(again) > nanosOf(events(before)[1]));
      stream.cancel();
    } finally {
      clients.close();
      await standin.close();
    }
  } finally {
    dir.remove();
  }
});

test.run();
