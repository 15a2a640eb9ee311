/*
 * Clock anchors through ingest and the real SQLite store: times mapped at
 * ingest, filled in or corrected later while unrelayed, never invented.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { Ingest, uplinkTopic, type IngestOutcome } from "../../../hosts/gateway/ingest/ingest.js";
import { ObservationStore } from "../../../hosts/gateway/store/observation-store.js";
import { tempDir } from "../../support/test-helpers.js";
import { anchorPayload, obsPayload, WALL } from "../../support/gateway-records.js";

function setup() {
  const dir = tempDir("clock");
  const store = ObservationStore.open(dir.path);
  const logger = createMemoryLogger("ingest");
  let clock = WALL + 500_000;
  const ingest = new Ingest({ store, logger, now: () => clock });
  const send = (payload: Uint8Array, sensorId = "s-1"): IngestOutcome => ingest.handle({ topic: uplinkTopic(sensorId), payload, clientId: "dev-1" });
  return {
    dir,
    store,
    logger,
    ingest,
    send,
    setClock: (ms: number) => void (clock = ms),
    timeOf: (seq: number, sensorId = "s-1") => {
      const o = storedObs(store, sensorId, seq);
      return [o.time ?? null, o.timeSource ?? null];
    },
    done() {
      store.close();
      dir.remove();
    },
  };
}

function storedObs(store: ObservationStore, sensorId: string, seq: number) {
  const found = store.find(sensorId, seq);
  if (!found) throw new Error(`${sensorId} seq ${seq} not stored`);
  return found.observation;
}

test("a device anchor, then observations: each time is exactly wall + (uptime − anchor uptime), source device", () => {
  const s = setup();
  const outcome = s.send(anchorPayload("s-1", 1, 2_500, WALL));
  assert.ok(outcome.kind === "anchor" && outcome.decision === "adopt");
  for (let seq = 1; seq <= 3; seq++) assert.is(s.send(obsPayload("s-1", seq)).kind, "stored");
  // observation(seq) has uptime seq × 1000 ms, boot 1.
  assert.equal(s.timeOf(1), [WALL - 1_500, "device"]);
  assert.equal(s.timeOf(3), [WALL + 500, "device"]);
  assert.is(s.ingest.counters().untimed, 0);
  assert.equal(s.ingest.counters().anchors, { adopted: 1, replaced: 0, kept: 0 });
  assert.ok(s.logger.lines.some((l) => l.level === "info" && /clock anchor adopted for s-1 boot 1 \(device\)/.test(String(l.msg))));
  s.done();
});

test("a null anchor takes the gateway's (injected) receive clock", () => {
  const s = setup();
  s.setClock(WALL + 7);
  s.send(anchorPayload("s-1", 1, 4_000, null));
  s.setClock(WALL + 999_999);
  s.send(obsPayload("s-1", 5));
  assert.equal(s.timeOf(5), [WALL + 7 + 1_000, "gateway"], "mapped by the anchor's receipt, not the observation's");
  assert.is(s.store.find("s-1", 5)?.receivedAt, WALL + 999_999);
  s.done();
});

test("observations before their anchor are untimed (counted) until it arrives, then filled in unless relayed", () => {
  const s = setup();
  for (let seq = 1; seq <= 3; seq++) s.send(obsPayload("s-1", seq));
  s.send(obsPayload("s-1", 4, 2));
  assert.is(s.ingest.counters().untimed, 4);
  assert.is(s.store.counts().untimed, 4);
  const first = s.store.unrelayed(1);
  s.store.markRelayed(first, WALL);
  const outcome = s.send(anchorPayload("s-1", 1, 10_000, WALL));
  assert.ok(outcome.kind === "anchor" && outcome.filled === 2 && outcome.corrected === 0);
  assert.equal(s.timeOf(1), [null, null], "already relayed: left as sent");
  assert.equal(s.timeOf(2), [WALL - 8_000, "device"]);
  assert.equal(s.timeOf(3), [WALL - 7_000, "device"]);
  assert.equal(s.timeOf(4), [null, null], "another boot: no anchor, no time");
  assert.is(s.ingest.counters().timeFilled, 2);
  assert.is(s.store.counts().untimed, 2);
  s.done();
});

test("a device anchor replaces a gateway one and corrects the boot's unrelayed rows; relayed rows keep what was sent", () => {
  const s = setup();
  s.setClock(WALL + 300);
  s.send(anchorPayload("s-1", 1, 0, null));
  s.send(obsPayload("s-1", 1));
  s.send(obsPayload("s-1", 2));
  s.store.markRelayed(s.store.unrelayed(1), WALL + 5_000);
  const outcome = s.send(anchorPayload("s-1", 1, 3_000, WALL + 3_000));
  assert.ok(outcome.kind === "anchor" && outcome.decision === "replace" && outcome.corrected === 1);
  assert.equal(s.timeOf(1), [WALL + 300 + 1_000, "gateway"]);
  assert.equal(s.timeOf(2), [WALL + 2_000, "device"]);
  assert.is(s.store.anchor("s-1", 1)?.source, "device");
  s.send(obsPayload("s-1", 3));
  assert.equal(s.timeOf(3), [WALL + 3_000, "device"]);
  // A later null anchor for the same boot changes nothing now.
  const late = s.send(anchorPayload("s-1", 1, 9_000, null));
  assert.ok(late.kind === "anchor" && late.decision === "keep");
  assert.equal(s.ingest.counters().anchors, { adopted: 1, replaced: 1, kept: 1 });
  assert.is(s.ingest.counters().timeCorrected, 1);
  s.done();
});

test("of two gateway anchors for a boot the least delayed is kept: a retried one changes nothing", () => {
  const s = setup();
  s.setClock(WALL + 100);
  s.send(anchorPayload("s-1", 1, 1_000, null));
  s.send(obsPayload("s-1", 2));
  // The same anchor again (a QoS 1 retry after a lost PUBACK), received 30 s later.
  s.setClock(WALL + 30_100);
  const retry = s.send(anchorPayload("s-1", 1, 1_000, null));
  assert.ok(retry.kind === "anchor" && retry.decision === "keep");
  assert.equal(s.timeOf(2), [WALL + 100 + 1_000, "gateway"]);
  // A fresh anchor after a reconnect whose receipt implies a smaller offset is better evidence.
  s.setClock(WALL + 50_000);
  const fresh = s.send(anchorPayload("s-1", 1, 50_950, null));
  assert.ok(fresh.kind === "anchor" && fresh.decision === "replace" && fresh.corrected === 1);
  assert.equal(s.timeOf(2), [WALL - 950 + 2_000, "gateway"]);
  s.done();
});

test("a null anchor while the gateway's clock is unset is refused (clock-unset), quarantined, and times nothing", () => {
  const s = setup();
  s.setClock(86_400_000);
  const outcome = s.send(anchorPayload("s-1", 1, 1_000, null));
  assert.ok(outcome.kind === "refused" && outcome.reason === "clock-unset" && outcome.field === "wallMs");
  s.send(obsPayload("s-1", 1));
  assert.equal(s.timeOf(1), [null, null]);
  assert.equal(s.store.counts(), { observations: 1, unrelayed: 1, untimed: 1, anchors: 0, rejected: 1 });
  assert.is(s.ingest.counters().refusedByReason["clock-unset"], 1);
  s.done();
});

test("a device anchor from an unset clock is refused as malformed, naming wallMs, and counted", () => {
  const s = setup();
  const outcome = s.send(anchorPayload("s-1", 1, 1_000, 5_000));
  assert.ok(outcome.kind === "refused" && outcome.reason === "malformed" && outcome.field === "wallMs");
  assert.match(outcome.kind === "refused" ? outcome.detail : "", /CLOCK_SYNCED_AFTER_MS/);
  assert.is(s.ingest.counters().refusedByReason.malformed, 1);
  assert.is(s.store.rejected(1)[0].field, "wallMs");
  assert.is(s.store.anchor("s-1", 1), undefined);
  s.done();
});

test("anchors are per sensor and per boot", () => {
  const s = setup();
  s.send(anchorPayload("s-1", 1, 0, WALL));
  s.send(anchorPayload("s-2", 1, 0, WALL + 1_000_000), "s-2");
  s.send(obsPayload("s-1", 1));
  s.send(obsPayload("s-2", 1), "s-2");
  s.send(obsPayload("s-1", 2, 2));
  assert.equal(s.timeOf(1), [WALL + 1_000, "device"]);
  assert.equal(s.timeOf(1, "s-2"), [WALL + 1_001_000, "device"]);
  assert.equal(s.timeOf(2), [null, null]);
  s.done();
});

test("anchors survive closing and reopening the store", () => {
  const s = setup();
  s.send(anchorPayload("s-1", 4, 2_000, WALL));
  s.store.close();
  const store = ObservationStore.open(s.dir.path);
  const ingest = new Ingest({ store, logger: createMemoryLogger(), now: () => WALL });
  ingest.handle({ topic: uplinkTopic("s-1"), payload: obsPayload("s-1", 1, 4), clientId: "dev-1" });
  assert.equal([storedObs(store, "s-1", 1).time, storedObs(store, "s-1", 1).timeSource], [WALL - 1_000, "device"]);
  assert.is(store.anchor("s-1", 4)?.offsetMs, WALL - 2_000);
  store.close();
  s.dir.remove();
});

test.run();
