/*
 * The fleet worker's snapshot: written by a real template worker, its
 * creation record read and patched, and a worker started from it runs with
 * the heap it was given (the one knob xsnap-worker leaves for its growth).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { XsnapWorker } from "../../simulator/engine/xsnap-worker.js";
import { heapGrowthFor, patchCreation, readCreation, SnapshotFormatError, writeFleetSnapshot } from "../../simulator/engine/worker-snapshot.js";
import { tempDir } from "../support/test-helpers.js";

test("a snapshot's creation record is read, patched and honoured by a worker started from it", async () => {
  const dir = tempDir("snapshot");
  const path = join(dir.path, "fleet.xss");
  const growth = { initialSlots: 3_000_000, slots: 1_000_000, initialChunkBytes: 64 * 1024 * 1024, chunkBytes: 16 * 1024 * 1024 };
  try {
    await writeFleetSnapshot(path, growth, async (template) => {
      await template.evaluate("globalThis.kept = 41 + 1;");
    });
    const creation = readCreation(readFileSync(path));
    assert.equal([creation.initialHeapCount, creation.incrementalHeapCount, creation.initialChunkSize, creation.incrementalChunkSize],
      [growth.initialSlots, growth.slots, growth.initialChunkBytes, growth.chunkBytes]);
    assert.is(creation.stackCount, 4096, "the rest is as xsnap wrote it");
    const worker = new XsnapWorker({ name: "from-snapshot", snapshot: path, onQuery: () => new Uint8Array([0]) });
    try {
      const { meter } = await worker.evaluate("if (globalThis.kept !== 42) throw new Error('state lost');");
      // XS reports what it allocated for its heaps: at least the 3 M slots of 32 bytes it started with.
      assert.ok(meter.allocate >= growth.initialSlots * 32, `allocated ${meter.allocate}`);
    } finally {
      await worker.close();
    }
  } finally {
    dir.remove();
  }
});

test("bytes that are not an XS 13 snapshot are refused, and values that do not fit are not written", () => {
  assert.throws(() => readCreation(new Uint8Array(64)), (e: unknown) => e instanceof SnapshotFormatError && /no XS_M header/.test((e as Error).message));
  const header = (tag: string, size: number) => [0, 0, 0, size, ...Buffer.from(tag)];
  const versioned = Uint8Array.from([...header("XS_M", 32), ...header("VERS", 12), 12, 0, 0, 32, ...header("SIGN", 8)]);
  assert.throws(() => readCreation(versioned), /XS 12\.0, this simulator knows 13\.3/);
  const noCreation = Uint8Array.from([...header("XS_M", 32), ...header("VERS", 12), 13, 3, 0, 32, ...header("SIGN", 8)]);
  assert.throws(() => readCreation(noCreation), /no creation record/);
  const creation = Uint8Array.from([...header("XS_M", 72), ...header("CREA", 56), ...new Array(48).fill(1)]);
  assert.throws(() => patchCreation(creation, { incrementalHeapCount: 0 }), /positive 32-bit integer/);
  patchCreation(creation, { incrementalHeapCount: 7 });
  assert.is(readCreation(creation).incrementalHeapCount, 7);
});

test("a worker's heap is sized to its devices, never below xsnap's defaults", () => {
  const small = heapGrowthFor(1);
  assert.equal([small.initialSlots, small.slots, small.chunkBytes], [256 * 1024, 128 * 1024, 4 * 1024 * 1024]);
  const large = heapGrowthFor(2500);
  assert.ok(large.initialSlots >= 2500 * 5000, "room for what 2,500 devices hold");
  assert.ok(large.slots > 128 * 1024 && large.chunkBytes > 4 * 1024 * 1024, "growth in proportion, not 4 MiB at a time");
});

test.run();
