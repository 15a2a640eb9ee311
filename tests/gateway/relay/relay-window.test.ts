/*
 * The relay with several sends in flight (a connector's maxConcurrentSends):
 * rows committed during a request go out without waiting for its answer,
 * each sensor's rows still in seq order, nothing lost, nothing twice.
 * Real store; a connector that holds each request until the test answers it.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import type { CloudAck, CloudConnector, RelayedObservation } from "../../../hosts/gateway/relay/connector.js";
import { ObservationStore } from "../../../hosts/gateway/store/observation-store.js";
import { Relay } from "../../../hosts/gateway/relay/relay.js";
import { observation, tempDir, waitFor } from "../../support/test-helpers.js";

interface Held {
  keys: string[];
  answer(): void;
  fail(): void;
}

/** Holds every request until answered; allows `window` at once. */
function heldConnector(window: number) {
  const requests: Held[] = [];
  let inFlight = 0;
  let most = 0;
  const connector: CloudConnector = {
    name: "held",
    maxConcurrentSends: window,
    send(batch: readonly RelayedObservation[]): Promise<CloudAck> {
      inFlight++;
      most = Math.max(most, inFlight);
      return new Promise((resolve, reject) => {
        const done = () => inFlight--;
        requests.push({
          keys: batch.map((o) => `${o.sensorId}:${o.seq}`),
          answer: () => (done(), resolve({ acked: batch.map(({ sensorId, seq }) => ({ sensorId, seq })) })),
          fail: () => (done(), reject(new Error("cloud unreachable"))),
        });
      });
    },
    async close() {},
  };
  return { connector, requests, most: () => most };
}

function setup(window: number) {
  const dir = tempDir("relay-window");
  const store = ObservationStore.open(dir.path);
  const held = heldConnector(window);
  const relay = new Relay({ store, connector: held.connector, logger: createMemoryLogger("relay"), intervalMs: 60_000, retryInitialMs: 10 });
  const stored = (sensorId: string, seq: number) => {
    store.append(observation(sensorId, seq), 1000 + seq);
    relay.wake();
  };
  return {
    store, relay, stored, ...held,
    async done() {
      await relay.close();
      store.close();
      dir.remove();
    },
  };
}

test("rows committed while a request is in flight go in a second request at once; a sensor's own rows wait for its request", async () => {
  const t = setup(2);
  t.stored("s-1", 1);
  await waitFor("the first request", () => t.requests.length === 1);
  t.stored("s-2", 1);
  t.stored("s-1", 2);
  await waitFor("a second request before the first is answered", () => t.requests.length === 2);
  assert.equal(t.requests[0].keys, ["s-1:1"]);
  assert.equal(t.requests[1].keys, ["s-2:1"], "s-1's next row is not sent beside its previous one");
  t.requests[1].answer();
  await new Promise((r) => setTimeout(r, 20));
  assert.is(t.requests.length, 2, "s-1:2 still waits for s-1:1's answer");
  t.requests[0].answer();
  await waitFor("s-1's next row, once its previous one is acknowledged", () => t.requests.length === 3);
  assert.equal(t.requests[2].keys, ["s-1:2"]);
  t.requests[2].answer();
  await waitFor("everything acknowledged", () => t.store.counts().unrelayed === 0);
  assert.is(t.relay.stats().relayed, 3);
  await t.done();
});

test("never more requests in flight than the connector allows; a failed one is sent again after the others are back, each row acknowledged once", async () => {
  const t = setup(3);
  for (let n = 1; n <= 6; n++) t.stored(`s-${n}`, 1);
  await waitFor("three requests", () => t.requests.length >= 3);
  await new Promise((r) => setTimeout(r, 20));
  assert.is(t.most(), 3);
  const first = t.requests.slice(0, 3);
  first[0].fail();
  first[1].answer();
  await new Promise((r) => setTimeout(r, 30));
  assert.is(t.requests.length, 3, "no new request while one failed and another is in flight");
  first[2].answer();
  // After the backoff: what is left (the failed request's rows, and the rows no request took) goes again.
  const sent = new Set([...first[1].keys, ...first[2].keys]);
  for (let i = 3; t.store.counts().unrelayed > 0 && i < 50; i++) {
    await waitFor(`request ${i + 1}`, () => t.requests.length > i);
    for (const key of t.requests[i].keys) {
      assert.not.ok(sent.has(key), `${key} acknowledged twice`);
      sent.add(key);
    }
    t.requests[i].answer();
    await new Promise((r) => setTimeout(r, 5));
  }
  await waitFor("everything acknowledged", () => t.store.counts().unrelayed === 0);
  assert.is(sent.size, 6);
  assert.is(t.relay.stats().failures, 1);
  assert.ok(t.most() <= 3);
  await t.done();
});

test.run();
