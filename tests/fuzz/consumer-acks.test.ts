/*
 * The gateway's Akka gRPC producer connector fuzzed with what the cloud's
 * EventConsumerService may send back on ConsumeEvent: acks naming events in
 * flight, past, future or unknown, starts, empty messages, serialised and
 * mutated bytes and noise, through a real grpc-js server on loopback, while
 * a backlog is in flight. Each message is read in turn (the stream goes on,
 * or ends and is opened again); no row is ever marked relayed that no ack
 * named; once the cloud acks properly everything is delivered and marked.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import Database from "better-sqlite3";
import { join } from "node:path";
import { EVENT_CONSUMER_SERVICE, grpcService } from "../../hosts/grpc/protocol.js";
import { ObservationStore } from "../../hosts/gateway/store/observation-store.js";
import { FakeEventConsumer, keyOf } from "../support/fake-event-consumer.js";
import { startProducerGateway } from "../support/akka-producer-gateway.js";
import { fc, fuzz, fuzzScale, mutatedBytes, summary } from "../support/fuzz.js";
import { observation, tempDir, waitFor } from "../support/test-helpers.js";

/**
 * The backlog: every run uses up at least one row (the real ack after it),
 * so it must outnumber the runs, which XSEDGE_FUZZ_SCALE multiplies; with
 * 400 rows a hunt at scale 8 ran the backlog dry after ~600 runs and the
 * next run waited for events in flight that were never coming.
 */
const ROWS = 400 * fuzzScale();
const method = grpcService(EVENT_CONSUMER_SERVICE).service.ConsumeEvent;
const serialize = method.responseSerialize as (value: unknown) => Buffer;
const deserialize = method.responseDeserialize as (bytes: Buffer) => unknown;

const seqNr = fc.oneof(fc.integer({ min: 0, max: ROWS + 5 }), fc.constantFrom("9007199254740993", "18446744073709551615", "-1", ""));
const pid = fc.oneof(fc.constant("Sensor|s-1"), fc.constantFrom("Sensor|s-2", "Sensor|", "s-1", ""), fc.string({ maxLength: 12 }));
const message = fc.oneof(
  { weight: 4, arbitrary: fc.record({ ack: fc.record({ persistence_id: pid, seq_nr: seqNr }) }) },
  { weight: 1, arbitrary: fc.record({ start: fc.record({ filter: fc.constant([]) }) }) },
  { weight: 1, arbitrary: fc.constant({}) },
);

function wire(m: unknown): Buffer | null {
  try {
    return serialize(m);
  } catch {
    return null;
  }
}

const input: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 3, arbitrary: message.map((m) => wire(m) ?? Buffer.alloc(0)) },
  { weight: 2, arbitrary: mutatedBytes(message.map((m) => Uint8Array.from(wire(m) ?? []))).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 30 }).map((b) => Buffer.from(b)) },
);

/** The key an ack in these bytes names, if they decode to one. */
function ackedKey(bytes: Buffer): string | null {
  try {
    const decoded = deserialize(bytes) as { message?: string; ack?: { persistence_id?: string; seq_nr?: string } };
    if (decoded.message !== "ack" || !decoded.ack?.persistence_id) return null;
    return keyOf(decoded.ack.persistence_id, Number(decoded.ack.seq_nr));
  } catch {
    return null;
  }
}

function backlog(count: number): string {
  const dir = tempDir("fuzz-acks").path;
  const store = ObservationStore.open(dir);
  store.transaction(() => {
    for (let seq = 1; seq <= count; seq++) store.append(observation("s-1", seq), 1000 + seq);
  });
  store.close();
  return dir;
}

test("any ConsumeEventOut: read in turn, nothing marked relayed that no ack named, everything delivered once the cloud acks", async () => {
  const fake = await FakeEventConsumer.start();
  fake.autoAck = false;
  const t = await startProducerGateway({ target: fake.target }, backlog(ROWS));
  const db = new Database(join(t.dataDir, "observations.db"), { readonly: true });
  const relayedKeys = db.prepare<[], { sensor_id: string; seq: number }>("SELECT sensor_id, seq FROM observations WHERE relayed_at IS NOT NULL");
  const named = new Set<string>();
  const onlyNamedRelayed = (context: string) => {
    for (const row of relayedKeys.all()) {
      const key = keyOf(`Sensor|${row.sensor_id}`, row.seq);
      assert.ok(fake.acked.has(key) || named.has(key), `${context}: ${key} is marked relayed, yet no ack named it`);
    }
  };
  const counted = () => {
    const s = t.connector.stats();
    return s.acked + s.unexpectedAcks + s.malformedResponses + s.refused + s.unavailable + s.resets + s.startTimeouts + s.ackTimeouts;
  };
  try {
    await waitFor("a batch in flight", () => fake.events.length > 0);
    let runs = 0;
    await fuzz("ConsumeEventOut into the producer", input, async (bytes) => {
      await waitFor("a stream with events in flight", () => fake.openStreams === 1 && fake.held > 0 && t.connector.stats().connected && t.connector.stats().inFlight > 0);
      const key = ackedKey(bytes);
      if (key) named.add(key);
      const before = counted();
      fake.sendToAll(bytes);
      // A real ack after it: once anything is counted, the fuzzed message (sent first, same stream) has been read.
      fake.releaseAcks(1);
      await waitFor("the message to be read", () => counted() > before, 3000);
      if (++runs % 10 === 0) onlyNamedRelayed(`after ${runs} messages`);
    }, {
      // The harness multiplies maxRuns by the scale too: at most ROWS / 2 runs.
      budgetMs: 5000, minRuns: 15, maxRuns: ROWS / 2 / fuzzScale(), runTimeoutMs: 5000,
      // The fake cloud keeps every event it receives, the window resent after each reset included (~35 KB a run): it grows with the runs.
      maxHeapGrowthBytes: 32 * 2 ** 20 * fuzzScale(),
      // Run first: an ack for nothing in flight, and a message that is neither start nor ack, however few runs the budget allows.
      examples: [wire({ ack: { persistence_id: "Sensor|ghost", seq_nr: 1 } })!, wire({})!],
    });
    onlyNamedRelayed("after fuzzing");
    fake.autoAck = true;
    fake.releaseAcks();
    await waitFor("the whole backlog marked", () => t.gateway.store.counts().unrelayed === 0, 15_000 * fuzzScale());
    onlyNamedRelayed("at the end");
    for (let seq = 1; seq <= ROWS; seq++) {
      const key = keyOf("Sensor|s-1", seq);
      assert.ok(fake.acked.has(key) || named.has(key), `${key} delivered`);
    }
    const stats = t.connector.stats();
    assert.ok(stats.unexpectedAcks > 0 && stats.malformedResponses > 0, `stray and malformed messages reached: ${JSON.stringify(stats)}`);
  } finally {
    db.close();
    await t.done();
    await fake.close();
  }
});

test.after(() => {
  for (const line of summary()) console.log(`  ${line}`);
});

test.run();
