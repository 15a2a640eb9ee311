/*
 * Random power cuts over long random FlashLog lives (beside the reentrant
 * cut-at-every-operation test in flash-log-power-cut.test.ts): each life is
 * one NOR chip used as a device would, by a seeded random uplink (append
 * records of any length, read them, release what the gateway acknowledged,
 * resend after a rewind, reboot), with power cut thousands of times at a
 * random flash operation (a torn write or erase, as nor-flash.ts models
 * it). After every cut the log is
 * mounted again on the same bytes and checked:
 * - no acknowledged record is lost: every append that returned true and
 *   that no returned release covered is there, in order (under drop-oldest,
 *   apart from the oldest the policy dropped, which it counts, and those an
 *   append cut short may have been dropping);
 * - no corrupt record is delivered: every record read, at any time, has
 *   exactly the bytes it was appended with;
 * - an interrupted append is there whole or not at all, an interrupted
 *   release took effect whole or not at all;
 * - a cut inside the very first format leaves a chip that still mounts;
 * - recovery is bounded in flash operations, not seconds: at most one read
 *   of each block's header and one of each block, and no write unless the
 *   chip is blank (then one erase and two writes).
 *
 * A failure names the life's seed and the cut; XSEDGE_POWERCUT_SEED=<seed>
 * replays that life alone.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { BlockDevice } from "../../modules/storage/block-device.js";
import { FlashLog, MAX_RECORD_BYTES, NONE, type FullPolicy } from "../../modules/storage/flash-log.js";
import { NorFlash, PowerCut } from "../../simulator/storage/nor-flash.js";

/** The header's bytes: recovery reads each block's once (layout.ts, BLOCK_HEADER_BYTES). */
const HEADER_BYTES = 20;

/**
 * recordFor's bytes (flash-log-records.ts: the id in the first four bytes,
 * then a pattern of id and length), written into one buffer and checked in
 * place: this test appends and reads some 500,000 records.
 */
function fillRecord(into: Uint8Array, id: number, length: number): Uint8Array {
  new DataView(into.buffer, into.byteOffset).setUint32(0, id, true);
  for (let i = 4; i < length; i++) into[i] = (id * 31 + i * 7 + length) & 0xff;
  return into;
}

/** The first byte at which `bytes` is not record `id` of `length` bytes, or -1. */
function mismatch(bytes: Uint8Array, id: number, length: number): number {
  if (new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true) !== id) return 0;
  for (let i = 4; i < length; i++) if (bytes[i] !== ((id * 31 + i * 7 + length) & 0xff)) return i;
  return -1;
}

/** Counts what mount asks of the chip. */
class CountingFlash implements BlockDevice {
  reads = 0;
  bytesRead = 0;
  writes = 0;
  erases = 0;
  constructor(readonly chip: NorFlash) {}
  get byteLength(): number {
    return this.chip.byteLength;
  }
  get blockSize(): number {
    return this.chip.blockSize;
  }
  read(offset: number, byteLength: number): ArrayBuffer {
    this.reads++;
    this.bytesRead += byteLength;
    return this.chip.read(offset, byteLength);
  }
  write(offset: number, byteLength: number, buffer: ArrayBuffer): void {
    this.writes++;
    this.chip.write(offset, byteLength, buffer);
  }
  erase(block: number): void {
    this.erases++;
    this.chip.erase(block);
  }
  reset(): void {
    this.reads = this.bytesRead = this.writes = this.erases = 0;
  }
}

// mulberry32, as nor-flash.ts: a seed replays a life exactly.
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Life {
  seed: number;
  blocks: number;
  blockSize: number;
  policy: FullPolicy;
  cuts: number;
}

interface LifeReport {
  cuts: number;
  cutsInMount: number;
  appended: number;
  released: number;
  dropped: number;
  maxMountReads: number;
  maxMountBytes: number;
}

const isCut = (e: unknown) => e instanceof PowerCut;

function live(life: Life): LifeReport {
  const rand = random(life.seed);
  const int = (n: number) => Math.floor(rand() * n);
  const chip = new NorFlash({ blockSize: life.blockSize, blocks: life.blocks, seed: life.seed ^ 0x5eed });
  const flash = new CountingFlash(chip);
  const buffer = new Uint8Array(MAX_RECORD_BYTES);
  const report: LifeReport = { cuts: 0, cutsInMount: 0, appended: 0, released: 0, dropped: 0, maxMountReads: 0, maxMountBytes: 0 };
  const maxReads = 2 * life.blocks;
  const maxBytes = life.blocks * (HEADER_BYTES + life.blockSize);
  /** Appended (returned true), not released, oldest first; what flash must hold. */
  let expected: number[] = [];
  let pendingAppend: number | undefined;
  let pendingRelease: number | undefined;
  let nextId = 1;
  let where = "the first mount";

  const fail = (message: string): never => {
    throw new Error(`life seed ${life.seed} (${life.blocks} × ${life.blockSize} B, ${life.policy}), cut ${report.cuts}, ${where}: ${message}`);
  };
  // The id takes the first four bytes; mostly observation-sized, now and then up to the largest.
  const lengthOf = () => (rand() < 0.1 ? 4 + int(MAX_RECORD_BYTES - 3) : 20 + int(24));
  const record = new Uint8Array(MAX_RECORD_BYTES);
  const check = (id: number, length: number) => {
    const at = mismatch(buffer, id, length);
    if (at >= 0) fail(`record ${id} (${length} bytes) delivered corrupt at byte ${at}`);
  };

  /** Mounts (the cut may land in it when the chip is blank), checks recovery's cost, and what it found against what was acknowledged. */
  function mount(): FlashLog {
    for (;;) {
      flash.reset();
      try {
        const log = FlashLog.mount(flash, { policy: life.policy });
        if (flash.reads > maxReads || flash.bytesRead > maxBytes) fail(`recovery read ${flash.reads} times, ${flash.bytesRead} bytes (bound ${maxReads}, ${maxBytes})`);
        if (flash.writes > 2 || flash.erases > 1) fail(`recovery wrote ${flash.writes} times and erased ${flash.erases} (only a format writes)`);
        report.maxMountReads = Math.max(report.maxMountReads, flash.reads);
        report.maxMountBytes = Math.max(report.maxMountBytes, flash.bytesRead);
        verify(log);
        return log;
      } catch (error) {
        if (!isCut(error)) throw error;
        report.cutsInMount++;
        chip.restorePower();
      }
    }
  }

  /** What a fresh mount holds against the tracker; then the tracker follows what flash holds. */
  function verify(log: FlashLog): void {
    const cursor = log.cursor();
    const found: number[] = [];
    for (let length = log.next(cursor, buffer); length !== NONE; length = log.next(cursor, buffer)) {
      const id = new DataView(buffer.buffer).getUint32(0, true);
      check(id, length);
      found.push(id);
    }
    if (log.records !== found.length) fail(`records says ${log.records}, ${found.length} read`);
    const seen = found.length > 0 && found[found.length - 1] === pendingAppend ? found.slice(0, -1) : found;
    const covered = pendingRelease === undefined ? expected : expected.filter((id) => id > pendingRelease!);
    const ok = (want: number[]) => seen.length === want.length && seen.every((id, i) => id === want[i]);
    // Only an append drops (under drop-oldest, the oldest block, to make room), and the drops it
    // completed are counted; so only an append cut short may have dropped records no one was told of.
    const dropsUntold = life.policy === "drop-oldest" && pendingAppend !== undefined;
    const suffix = (want: number[]) => seen.length <= want.length && ok(want.slice(want.length - seen.length));
    if (!(ok(expected) || ok(covered) || (dropsUntold && (suffix(expected) || suffix(covered))))) {
      fail(`flash holds [${found.join(", ")}], acknowledged were [${expected.join(", ")}] (append of ${pendingAppend} and release up to ${pendingRelease} interrupted)`);
    }
    expected = seen.slice();
    if (found.length > seen.length) expected.push(pendingAppend!);
    pendingAppend = pendingRelease = undefined;
  }

  /**
   * The device's uplink until power goes: appends, reads, releases of what
   * was read, rewinds, clean reboots. Each run is connected (the gateway
   * acknowledges about as fast as samples come) or away (it never does, and
   * the log fills).
   */
  function run(log: FlashLog): void {
    let cursor = log.cursor();
    let read: Array<{ id: number; position: number }> = [];
    const appendShare = rand() < 0.7 ? 0.35 : 0.9;
    for (;;) {
      const op = rand();
      if (op < appendShare) {
        const id = nextId++;
        pendingAppend = id;
        const before = log.records;
        const length = lengthOf();
        const appended = log.append(fillRecord(record, id, length), length);
        if (appended) {
          expected.push(id);
          report.appended++;
        }
        pendingAppend = undefined;
        // What the policy dropped to make room (the log counts it in stats(); records says it cheaper).
        const dropped = before + (appended ? 1 : 0) - log.records;
        if (dropped > 0) {
          // The policy dropped the oldest unreleased records to make room: counted, and no longer expected.
          expected = expected.slice(dropped);
          read = read.filter((r) => expected.includes(r.id));
          report.dropped += dropped;
        }
      } else if (op < appendShare + (1 - appendShare) * 0.5) {
        const length = log.next(cursor, buffer);
        if (length === NONE) continue;
        const id = new DataView(buffer.buffer).getUint32(0, true);
        check(id, length);
        if (!expected.includes(id)) fail(`read record ${id}, which is not unreleased`);
        read.push({ id, position: cursor.position });
      } else if (op < appendShare + (1 - appendShare) * 0.9) {
        if (read.length === 0) continue;
        const upTo = read[int(read.length)];
        pendingRelease = upTo.id;
        log.release(upTo.position);
        const before = expected.length;
        expected = expected.filter((id) => id > upTo.id);
        report.released += before - expected.length;
        pendingRelease = undefined;
        read = read.filter((r) => r.id > upTo.id);
      } else if (op < appendShare + (1 - appendShare) * 0.98) {
        log.rewind(cursor);
        read = [];
      } else {
        where = `a clean reboot after cut ${report.cuts}`;
        log = mount();
        cursor = log.cursor();
        read = [];
      }
    }
  }

  // Power fails inside the first format too, a few times, before the chip holds anything.
  for (let k = 0; k < 3; k++) {
    chip.cutPowerAfter(k, life.seed + k);
    try {
      FlashLog.mount(flash, { policy: life.policy });
    } catch (error) {
      if (!isCut(error)) throw error;
      report.cutsInMount++;
    }
    chip.restorePower();
  }
  let log = mount();
  while (report.cuts < life.cuts) {
    // Anywhere from the next flash operation to some 160 later.
    chip.cutPowerAfter(rand() < 0.02 ? 0 : int(160), life.seed + report.cuts);
    try {
      if (rand() < 0.02) throw new PowerCut("before the uplink ran");
      run(log);
    } catch (error) {
      if (!isCut(error)) throw error;
    }
    report.cuts++;
    chip.restorePower();
    where = `the mount after cut ${report.cuts}`;
    log = mount();
  }
  return report;
}

const replay = process.env.XSEDGE_POWERCUT_SEED;
const LIVES: Life[] = replay
  ? [{ seed: Number(replay), blocks: 4, blockSize: 512, policy: "drop-oldest", cuts: 3000 }]
  : [
      { seed: 1, blocks: 4, blockSize: 512, policy: "drop-oldest", cuts: 3000 },
      { seed: 2, blocks: 2, blockSize: 512, policy: "drop-oldest", cuts: 2500 },
      { seed: 3, blocks: 5, blockSize: 1024, policy: "refuse-newest", cuts: 2500 },
      { seed: 4, blocks: 3, blockSize: 300, policy: "refuse-newest", cuts: 2500 },
    ];

const summary: string[] = [];

for (const life of LIVES) {
  test(`${life.cuts.toLocaleString("en")} random power cuts over one ${life.policy} life (${life.blocks} blocks of ${life.blockSize} B, seed ${life.seed})`, () => {
    const started = Date.now();
    const report = live(life);
    assert.is(report.cuts, life.cuts);
    assert.ok(report.cutsInMount > 0, "cuts landed inside a format");
    assert.ok(report.appended > life.cuts && report.released > life.cuts, `the workload went somewhere: ${JSON.stringify(report)}`);
    if (life.policy === "drop-oldest" && life.blocks === 2) assert.ok(report.dropped > 0, "the small log overflowed");
    summary.push(`seed ${life.seed}: ${report.cuts} cuts (+${report.cutsInMount} during a mount), ${report.appended} appended, ${report.released} released, ${report.dropped} dropped; recovery at most ${report.maxMountReads} reads, ${report.maxMountBytes} bytes; ${Date.now() - started} ms`);
  });
}

test("in all, at least 10,000 power cuts", () => {
  if (replay) return;
  assert.ok(LIVES.reduce((n, l) => n + l.cuts, 0) >= 10_000);
});

test.after(() => {
  for (const line of summary) console.log(`  ${line}`);
});

test.run();
