/*
 * The event streams' pure parts (hosts/http): admission in all and per
 * address, and the turns catch-up pages take on the event loop.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { checkSseLimits, SseAdmission } from "../../../hosts/http/sse-admission.js";
import { LoopTurns } from "../../../hosts/http/sse.js";

test("admission: per address first fills, then the total; a release frees one place once, and empty addresses are forgotten", () => {
  const admission = new SseAdmission({ maxClients: 3, maxClientsPerAddress: 2, maxBufferedBytes: 1024 });
  const a1 = admission.admit("a");
  const a2 = admission.admit("a");
  const a3 = admission.admit("a");
  assert.ok(a1.ok && a2.ok);
  assert.equal(a3.ok ? "admitted" : [a3.reason, a3.status], ["maxClientsPerAddress", 429]);
  const b1 = admission.admit("b");
  const c1 = admission.admit("c");
  assert.ok(b1.ok);
  assert.equal(c1.ok ? "admitted" : [c1.reason, c1.status], ["maxClients", 503]);
  if (!a1.ok) throw new Error("unreachable");
  a1.release();
  a1.release();
  assert.is(admission.open, 2, "released once");
  assert.ok(admission.admit("c").ok);
  assert.equal(admission.refused(), { maxClients: 1, maxClientsPerAddress: 1 });
  assert.throws(() => checkSseLimits({ maxClients: 0, maxClientsPerAddress: 1, maxBufferedBytes: 1 }), /maxClients must be a positive integer/);
});

test("loop turns: waiters go one per turn of the event loop, in order", async () => {
  // Counts the loop's iterations: an immediate scheduled from an immediate runs on the next one.
  let iteration = 0;
  let counting = true;
  const count = () => {
    iteration++;
    if (counting) setImmediate(count);
  };
  setImmediate(count);
  const turns = new LoopTurns();
  const seen: Array<[number, number]> = [];
  await Promise.all([1, 2, 3, 4].map((n) => turns.next().then(() => void seen.push([n, iteration]))));
  counting = false;
  assert.equal(seen.map(([n]) => n), [1, 2, 3, 4]);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i][1] > seen[i - 1][1], `turns ${seen[i - 1][0]} and ${seen[i][0]} shared an iteration: ${JSON.stringify(seen)}`);
});

test.run();
