/*
 * The live-heap gauge on /metrics (api/heap-after-gc.ts): it follows what
 * survives a major collection, not the garbage between collections. The
 * collections are forced (V8's gc(), exposed at run time) so the test does
 * not wait on V8's heuristics.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { GatewayMetrics, HEAP_AFTER_GC_METRIC } from "../../../hosts/gateway/api/metrics.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const MiB = 2 ** 20;
const metrics = new GatewayMetrics(() => ({}));
const live = async () => Number(new RegExp(`^${HEAP_AFTER_GC_METRIC} (\\S+)$`, "m").exec(await metrics.text())?.[1]);

/** Forces a major collection and waits until the gauge has been read after it (the observer is called asynchronously). */
async function collected(): Promise<number> {
  const before = await live();
  gc();
  for (let tries = 0; tries < 500 && (await live()) === before; tries++) await new Promise((r) => setTimeout(r, 10));
  return live();
}

test("the live heap rises by what is kept across a major collection and falls when it is let go; garbage never shows", async () => {
  const base = await collected();
  assert.ok(base > 0, `live heap after a major collection: ${base}`);
  let kept: Array<{ i: number; s: string }> | null = Array.from({ length: 400_000 }, (_, i) => ({ i, s: `row ${i}` }));
  const holding = await collected();
  assert.ok(holding - base > 15 * MiB, `kept ~20 MiB: ${((holding - base) / MiB).toFixed(1)} MiB more`);
  // As much again allocated and dropped at once: garbage, which the gauge must not count.
  for (let round = 0; round < 4; round++) Array.from({ length: 400_000 }, (_, i) => ({ i, s: `garbage ${i}` }));
  kept.length = 0;
  kept = null;
  const released = await collected();
  assert.ok(holding - released > 15 * MiB, `let go: ${((holding - released) / MiB).toFixed(1)} MiB less`);
  assert.ok(released - base < 5 * MiB, `back near where it was: ${((released - base) / MiB).toFixed(1)} MiB above`);
});

test.run();
