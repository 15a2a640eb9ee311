import { test } from "uvu";
import * as assert from "uvu/assert";
import { crc32, crc32Finish, crc32Update, CRC32_START } from "../../modules/storage/crc32.js";
import { FlashLog, MAX_RECORD_BYTES, NONE } from "../../modules/storage/flash-log.js";
import { BLOCK_HEADER_BYTES, FRAME_OVERHEAD_BYTES, MIN_BLOCK_BYTES, seqDiff, seqNext } from "../../modules/storage/layout.js";
import { NorFlash, PowerCut } from "../../simulator/storage/nor-flash.js";
import { ids, readAll, recordFor } from "../support/flash-log-records.js";

const BLOCK = 512;
const small = (blocks = 4, seed = 1): NorFlash => new NorFlash({ blockSize: BLOCK, blocks, seed });

function appendIds(log: FlashLog, from: number, to: number, length?: number): void {
  for (let id = from; id <= to; id++) assert.ok(log.append(recordFor(id, length)), `append ${id}`);
}

// ---- CRC-32 ----

test("crc32 gives the IEEE check value and the same result piecewise", () => {
  const digits = new TextEncoder().encode("123456789");
  assert.is(crc32(digits), 0xcbf43926);
  assert.is(crc32(new Uint8Array(0)), 0);
  const piecewise = crc32Finish(crc32Update(crc32Update(CRC32_START, digits, 0, 4), digits, 4, 5));
  assert.is(piecewise, 0xcbf43926);
});

// ---- sequence numbers ----

test("sequence comparison is right across the 32-bit wrap", () => {
  assert.is(seqNext(0xffffffff), 0);
  assert.ok(seqDiff(0, 0xffffffff) > 0, "0 follows 0xFFFFFFFF");
  assert.ok(seqDiff(0xffffffff, 0) < 0);
  assert.ok(seqDiff(5, 0xfffffffb) === 10);
  assert.ok(seqDiff(0x7ffffffe, 0) > 0 && seqDiff(0, 0x7ffffffe) < 0);
  assert.is(seqDiff(123, 123), 0);
});

// ---- the NOR model ----

test("the NOR model refuses to set bits, to cross blocks, and erases out of range", () => {
  const flash = small(2);
  flash.write(10, 2, new Uint8Array([0x0f, 0xf0]).buffer);
  flash.write(10, 1, new Uint8Array([0x07]).buffer);
  assert.equal(new Uint8Array(flash.read(10, 2)), new Uint8Array([0x07, 0xf0]));
  assert.throws(() => flash.write(10, 1, new Uint8Array([0x08]).buffer), /set bits/);
  assert.throws(() => flash.write(BLOCK - 1, 2, new Uint8Array([0, 0]).buffer), /crosses/);
  assert.throws(() => flash.write(2 * BLOCK - 1, 2, new Uint8Array(2).buffer), RangeError);
  assert.throws(() => flash.erase(2), RangeError);
  assert.throws(() => flash.erase(0.5), RangeError);
  assert.throws(() => flash.erase(-1), RangeError);
  flash.erase(0);
  assert.equal(new Uint8Array(flash.read(10, 2)), new Uint8Array([0xff, 0xff]));
  assert.equal(Array.from(flash.eraseCounts), [1, 0]);
});

test("a power cut tears the armed operation and blocks everything until restored", () => {
  const flash = small(2, 7);
  flash.cutPowerAfter(1);
  flash.write(0, 4, new Uint8Array([1, 2, 3, 4]).buffer);
  assert.throws(() => flash.write(100, 64, new Uint8Array(64).buffer), (e: unknown) => e instanceof PowerCut);
  assert.not.ok(flash.powered);
  assert.throws(() => flash.read(0, 1), (e: unknown) => e instanceof PowerCut);
  flash.restorePower();
  const torn = new Uint8Array(flash.read(100, 64));
  const programmed = torn.findIndex((b) => b !== 0);
  assert.ok(programmed >= 0 && programmed < 64, "only part of the write landed");
  assert.ok(torn.slice(programmed + 1).every((b) => b === 0xff), "nothing after the cut point");
  assert.is(flash.operations, 1);
  const copy = new NorFlash({ blockSize: BLOCK, blocks: 2 }, flash.snapshot());
  assert.equal(new Uint8Array(copy.read(0, 4)), new Uint8Array([1, 2, 3, 4]));
});

test("a power cut inside an erase leaves the block neither old nor erased", () => {
  let partial = 0;
  for (let seed = 1; seed <= 20; seed++) {
    const flash = small(2, seed);
    flash.write(0, BLOCK, new Uint8Array(BLOCK).buffer);
    flash.cutPowerAfter(0);
    assert.throws(() => flash.erase(0), (e: unknown) => e instanceof PowerCut);
    flash.restorePower();
    const bytes = new Uint8Array(flash.read(0, BLOCK));
    const erased = bytes.filter((b) => b === 0xff).length;
    if (erased > 0 && erased < BLOCK) partial++;
    assert.is(flash.eraseCounts[0], 1, "a torn erase still wears the block");
  }
  assert.ok(partial >= 15, `most torn erases are partial (${partial}/20)`);
});

// ---- append, read, release ----

test("records come back in order, are released oldest first, and survive a remount", () => {
  const flash = small();
  const log = FlashLog.mount(flash);
  appendIds(log, 1, 10);
  const entries = readAll(log);
  assert.equal(ids(entries), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.is(log.release(entries[3].position), 4);
  assert.is(log.records, 6);
  assert.is(log.release(entries[3].position), 0, "a repeated acknowledgement releases nothing");
  assert.is(log.release(entries[1].position), 0, "nor does an older one");
  const again = FlashLog.mount(flash);
  assert.equal(ids(readAll(again)), [5, 6, 7, 8, 9, 10]);
  assert.is(again.records, 6);
  assert.is(again.release(entries[9].position), 6, "positions stay valid across a remount");
  assert.is(again.records, 0);
  assert.equal(ids(readAll(FlashLog.mount(flash))), []);
  const stats = log.stats();
  assert.is(stats.appended, 10);
  assert.is(stats.released, 4);
});

test("a cursor reads on from where it was, and skips what was released meanwhile", () => {
  const log = FlashLog.mount(small());
  appendIds(log, 1, 6);
  const cursor = log.cursor();
  const buffer = new Uint8Array(MAX_RECORD_BYTES);
  const positions: number[] = [];
  for (let i = 0; i < 3; i++) {
    assert.ok(log.next(cursor, buffer) > 0);
    positions.push(cursor.position);
  }
  appendIds(log, 7, 8);
  assert.ok(log.next(cursor, buffer) > 0);
  assert.is(new DataView(buffer.buffer).getUint32(0, true), 4);
  const late = log.cursor();
  log.release(positions[2]);
  assert.ok(log.next(late, buffer) > 0, "a cursor behind the released records jumps ahead");
  assert.is(new DataView(buffer.buffer).getUint32(0, true), 4);
  log.rewind(cursor);
  assert.ok(log.next(cursor, buffer) > 0);
  assert.is(new DataView(buffer.buffer).getUint32(0, true), 4, "rewind goes to the oldest unreleased record");
  let n = 1;
  while (log.next(cursor, buffer) !== NONE) n++;
  assert.is(n, 5);
  assert.throws(() => log.next(log.cursor(), new Uint8Array(4)), RangeError, "a buffer too small for the record");
});

test("record sizes from 1 to 255 bytes are stored; 0 and 256 are refused", () => {
  const log = FlashLog.mount(small());
  assert.throws(() => log.append(new Uint8Array(0)), RangeError);
  assert.throws(() => log.append(new Uint8Array(256)), RangeError);
  assert.throws(() => log.append(new Uint8Array(10), 11), RangeError);
  const buffer = new Uint8Array(MAX_RECORD_BYTES);
  for (const length of [1, 2, 3, 254, 255]) {
    const record = new Uint8Array(length).map((_, i) => (i * 13 + length) & 0xff);
    assert.ok(log.append(record));
    const cursor = log.cursor();
    let got = NONE;
    for (let l = log.next(cursor, buffer); l !== NONE; l = log.next(cursor, buffer)) got = l;
    assert.is(got, length);
    assert.equal(buffer.slice(0, length), record);
  }
  assert.ok(log.append(new Uint8Array([9, 8, 7, 6, 5]), 3));
});

test("no record straddles a block boundary", () => {
  const flash = small(4);
  const log = FlashLog.mount(flash, { policy: "refuse-newest" });
  let id = 1;
  while (log.append(recordFor(id, 90 + (id % 7) * 20))) id++;
  const entries = readAll(FlashLog.mount(flash));
  assert.is(entries.length, id - 1);
  for (const e of entries) {
    const offset = e.position % BLOCK;
    assert.ok(offset >= BLOCK_HEADER_BYTES && offset + FRAME_OVERHEAD_BYTES + e.length <= BLOCK, `record ${e.id} inside its block`);
  }
});

test("release refuses positions that are not records", () => {
  const log = FlashLog.mount(small());
  appendIds(log, 1, 3);
  const [first, second] = readAll(log);
  assert.throws(() => log.release(first.position + 1), RangeError);
  assert.throws(() => log.release(-1), RangeError);
  assert.throws(() => log.release(1.5), RangeError);
  assert.throws(() => log.release(second.position + 10 * BLOCK), RangeError, "a block not written yet");
  assert.is(log.release(second.position), 2);
});

test("bytesFree counts what can still be appended", () => {
  const blocks = 4;
  const log = FlashLog.mount(small(blocks));
  assert.is(log.bytesFree, blocks * (BLOCK - BLOCK_HEADER_BYTES));
  log.append(recordFor(1, 30));
  assert.is(log.bytesFree, blocks * (BLOCK - BLOCK_HEADER_BYTES) - 30 - FRAME_OVERHEAD_BYTES);
});

test("bad geometry and options are refused with RangeError", () => {
  assert.throws(() => FlashLog.mount(new NorFlash({ blockSize: MIN_BLOCK_BYTES - 1, blocks: 4 })), RangeError);
  assert.throws(() => FlashLog.mount(new NorFlash({ blockSize: BLOCK, blocks: 1 })), RangeError);
  assert.throws(() => FlashLog.mount(small(), { policy: "keep-all" as never }), RangeError);
  assert.throws(() => FlashLog.mount(small(), { initialSequence: -1 }), RangeError);
});

// ---- full log ----

test("refuse-newest: a full log refuses appends, counts them, and loses nothing", () => {
  const flash = small(4);
  const log = FlashLog.mount(flash, { policy: "refuse-newest" });
  let id = 1;
  while (log.append(recordFor(id))) id++;
  const stored = id - 1;
  assert.ok(stored > 30, `a 4 x 512-byte log holds ${stored} records`);
  assert.not.ok(log.append(recordFor(id)));
  assert.not.ok(log.append(recordFor(id)));
  assert.is(log.stats().refused, 3, "the append that found it full, and two more");
  assert.is(log.stats().dropped, 0);
  const entries = readAll(FlashLog.mount(flash, { policy: "refuse-newest" }));
  assert.equal(ids(entries), Array.from({ length: stored }, (_, i) => i + 1));
  // Releasing the first block's records makes room again.
  const firstBlock = entries.filter((e) => Math.floor(e.position / BLOCK) === Math.floor(entries[0].position / BLOCK));
  log.release(firstBlock[firstBlock.length - 1].position);
  assert.ok(log.append(recordFor(id)), "room after a release");
});

test("drop-oldest: a full log drops the oldest block, counts the records, and keeps the newest", () => {
  const flash = small(4);
  const log = FlashLog.mount(flash, { policy: "drop-oldest" });
  const total = 200;
  appendIds(log, 1, total);
  const { dropped, records, refused } = log.stats();
  assert.ok(dropped > 0);
  assert.is(refused, 0);
  assert.is(dropped + records, total);
  const remaining = ids(readAll(FlashLog.mount(flash)));
  assert.equal(remaining, Array.from({ length: records }, (_, i) => dropped + i + 1), "a contiguous run of the newest");
});

test("drop-oldest skips a cursor past dropped records, and releasing a dropped position is harmless", () => {
  const log = FlashLog.mount(small(3));
  appendIds(log, 1, 5);
  const cursor = log.cursor();
  const buffer = new Uint8Array(MAX_RECORD_BYTES);
  log.next(cursor, buffer);
  const oldPosition = cursor.position;
  appendIds(log, 6, 120);
  assert.ok(log.stats().dropped > 0);
  assert.ok(log.next(cursor, buffer) > 0);
  assert.is(new DataView(buffer.buffer).getUint32(0, true), log.stats().dropped + 1);
  assert.is(log.release(oldPosition), 0);
});

// ---- sequence wrap ----

test("block sequence numbers wrap past 2^32 without losing order", () => {
  const flash = small(4);
  const options = { policy: "refuse-newest" as const, initialSequence: 0xffffffff - 2 };
  let log = FlashLog.mount(flash, options);
  let id = 1;
  let oldest = 1;
  // About 13 records a block: 40 rounds of 10 cross the wrap and lap the ring several times.
  for (let round = 0; round < 40; round++) {
    for (let n = 0; n < 10; n++, id++) assert.ok(log.append(recordFor(id, 30)), `append ${id}`);
    log = FlashLog.mount(flash, options);
    const entries = readAll(log);
    assert.equal(ids(entries), Array.from({ length: id - oldest }, (_, i) => oldest + i), `round ${round}`);
    const keep = 8;
    log.release(entries[entries.length - 1 - keep].position);
    oldest = id - keep;
  }
  const seqs = new Set<number>();
  const bytes = flash.snapshot();
  for (let b = 0; b < 4; b++) seqs.add(new DataView(bytes.buffer).getUint32(b * BLOCK + 8, true));
  assert.ok([...seqs].every((s) => s < 100), "every block has been reused since the wrap");
});

// ---- wear ----

test("erases spread evenly over all blocks, and the log's counters match the chip's", () => {
  const blocks = 8;
  const flash = small(blocks);
  const log = FlashLog.mount(flash);
  const cursor = log.cursor();
  const buffer = new Uint8Array(MAX_RECORD_BYTES);
  for (let id = 1; id <= 5000; id++) {
    log.append(recordFor(id, 30));
    if (id % 4 === 0) {
      let last = NONE;
      while (log.next(cursor, buffer) !== NONE) last = cursor.position;
      log.release(last);
    }
  }
  const counts = Array.from(flash.eraseCounts);
  assert.ok(Math.min(...counts) >= 40, `every block is in use (${counts})`);
  assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `erases within one of each other: ${counts}`);
  assert.equal(log.stats().eraseCounts, counts);
  const remounted = FlashLog.mount(flash);
  for (let b = 0; b < blocks; b++) assert.is(remounted.eraseCount(b), counts[b]);
});

test("a block is erased only when the head needs it", () => {
  const flash = small(4);
  const log = FlashLog.mount(flash);
  assert.equal(Array.from(flash.eraseCounts), [1, 0, 0, 0], "formatting erases one block, not the device");
  appendIds(log, 1, 5);
  let last = NONE;
  for (const e of readAll(log)) last = e.position;
  log.release(last);
  assert.equal(Array.from(flash.eraseCounts), [1, 0, 0, 0], "releasing erases nothing");
});

// ---- recovery ----

test("a torn last record is discarded and nothing else is lost", () => {
  for (let seed = 1; seed <= 10; seed++) {
    const flash = small(4, seed);
    const log = FlashLog.mount(flash);
    appendIds(log, 1, 20);
    flash.cutPowerAfter(seed % 2); // inside the head-and-payload write, or inside the CRC write
    assert.throws(() => log.append(recordFor(21)), (e: unknown) => e instanceof PowerCut);
    assert.throws(() => log.append(recordFor(22)), /mount again/, "the log refuses use after a device failure");
    flash.restorePower();
    const after = FlashLog.mount(flash);
    assert.equal(ids(readAll(after)), Array.from({ length: 20 }, (_, i) => i + 1));
    assert.is(after.stats().tornDiscarded, 1);
    assert.is(after.stats().corruptSkipped, 0);
    appendIds(after, 23, 30);
    assert.equal(ids(readAll(FlashLog.mount(flash))), [...Array.from({ length: 20 }, (_, i) => i + 1), 23, 24, 25, 26, 27, 28, 29, 30]);
  }
});

test("a torn erase of a reclaimed block never brings its released records back", () => {
  // Two blocks: the release point sits in the very block the head reclaims,
  // the case where only the ring-start mark in the other block can tell.
  for (let seed = 1; seed <= 30; seed++) {
    const flash = new NorFlash({ blockSize: BLOCK, blocks: 2, seed });
    const log = FlashLog.mount(flash);
    const perBlock = Math.floor((BLOCK - BLOCK_HEADER_BYTES) / (30 + FRAME_OVERHEAD_BYTES));
    appendIds(log, 1, perBlock, 30);
    const entries = readAll(log);
    assert.ok(entries.every((e) => Math.floor(e.position / BLOCK) === 0), "block 0 holds them all");
    log.release(entries[entries.length - 1].position);
    appendIds(log, perBlock + 1, 2 * perBlock, 30);
    flash.cutPowerAfter(0, seed, "erase"); // the erase of block 0 is torn, whatever was written before it
    assert.throws(() => log.append(recordFor(2 * perBlock + 1, 30)), (e: unknown) => e instanceof PowerCut);
    assert.is(flash.eraseCounts[0], 2, "the cut landed in block 0's erase");
    flash.restorePower();
    const after = FlashLog.mount(flash);
    const found = ids(readAll(after));
    assert.equal(found, Array.from({ length: perBlock }, (_, i) => perBlock + 1 + i), `seed ${seed}: released records stay released`);
    assert.ok(after.append(recordFor(100, 30)));
  }
});

test("a bad CRC in the middle is counted and skipped, never fatal", () => {
  const flash = small(4);
  const log = FlashLog.mount(flash);
  appendIds(log, 1, 12);
  const entries = readAll(log);
  flash.damage(entries[4].position % (4 * BLOCK) + 3 + 10, 0x10); // a payload byte of record 5
  const after = FlashLog.mount(flash);
  assert.is(after.stats().corruptSkipped, 1);
  assert.is(after.stats().tornDiscarded, 0);
  assert.equal(ids(readAll(after)), [1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12]);
  assert.is(after.records, 11);
  const positions = readAll(after).map((e) => e.position);
  assert.is(after.release(positions[5]), 6, "counting over the damaged record");
  assert.equal(ids(readAll(FlashLog.mount(flash))), [8, 9, 10, 11, 12]);
});

test("a damaged length byte is resynchronised past", () => {
  const flash = small(4);
  const log = FlashLog.mount(flash);
  appendIds(log, 1, 8);
  const entries = readAll(log);
  flash.damage(entries[2].position % (4 * BLOCK), 0x40); // record 3's length no longer matches its check byte
  const after = FlashLog.mount(flash);
  assert.is(after.stats().corruptSkipped, 1);
  assert.equal(ids(readAll(after)), [1, 2, 4, 5, 6, 7, 8]);
  appendIds(after, 9, 9);
  assert.equal(ids(readAll(FlashLog.mount(flash))), [1, 2, 4, 5, 6, 7, 8, 9]);
});

test("a frame head that reads as erased in the middle of a block is skipped, not taken for the end", () => {
  const flash = small(4);
  const log = FlashLog.mount(flash);
  appendIds(log, 1, 6, 30);
  const at = readAll(log)[2].position % (4 * BLOCK);
  const head = new Uint8Array(flash.read(at, 2));
  flash.damage(at, head[0] ^ 0xff);
  flash.damage(at + 1, head[1] ^ 0xff);
  const after = FlashLog.mount(flash);
  assert.equal(ids(readAll(after)), [1, 2, 4, 5, 6]);
  assert.is(after.stats().corruptSkipped, 1);
});

test("damage after mount is skipped by readers too", () => {
  const flash = small(4);
  const log = FlashLog.mount(flash);
  appendIds(log, 1, 6);
  const entries = readAll(log);
  flash.damage(entries[1].position % (4 * BLOCK) + 5, 0x01);
  assert.equal(ids(readAll(log)), [1, 3, 4, 5, 6]);
});

test("garbage on a device with no log is formatted over; a blank device starts empty", () => {
  const bytes = new Uint8Array(4 * BLOCK).map((_, i) => (i * 97) & 0xff);
  const flash = new NorFlash({ blockSize: BLOCK, blocks: 4 }, bytes);
  const log = FlashLog.mount(flash);
  assert.is(log.records, 0);
  appendIds(log, 1, 40, 30);
  assert.equal(ids(readAll(FlashLog.mount(flash))), Array.from({ length: 40 }, (_, i) => i + 1));
});

test.run();
