/*
 * The soak's judge of flat memory (memory-trend.ts).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { judgeTrend, slope, type MemorySample } from "./memory-trend.js";

const MiB = 2 ** 20;
const series = (n: number, at: (i: number) => number, stepMs = 10_000): MemorySample[] => Array.from({ length: n }, (_, i) => ({ t: i * stepMs, bytes: at(i) }));
const options = { warmupMs: 60_000, toleranceBytes: 8 * MiB, maxGrowth: 0.1, minSamples: 6 };

test("a steady process with GC saw-teeth is flat", () => {
  const verdict = judgeTrend(series(360, (i) => 100 * MiB + (i % 7) * 3 * MiB), options);
  assert.ok(verdict.judged && verdict.state === "flat", JSON.stringify(verdict));
});

test("a slow leak (20% over the hour) is not flat, though each sample moves less than the noise", () => {
  const verdict = judgeTrend(series(360, (i) => 100 * MiB + i * (20 * MiB / 360) + (i % 7) * 3 * MiB), options);
  assert.ok(verdict.judged && !verdict.flat, JSON.stringify(verdict));
  assert.ok(verdict.judged && verdict.slopeMiBPerHour > 15 && verdict.slopeMiBPerHour < 25);
});

test("a step up that stays (a high-water mark) is settled, not growing; a rise that goes on in the second half is growing", () => {
  const step = judgeTrend(series(120, (i) => (i < 50 ? 100 * MiB : 140 * MiB) + (i % 5) * MiB), options);
  assert.ok(step.judged && step.state === "settled" && step.flat, JSON.stringify(step));
  const ramp = judgeTrend(series(120, (i) => 100 * MiB + i * (40 * MiB / 120)), options);
  assert.ok(ramp.judged && ramp.state === "growing" && !ramp.flat, JSON.stringify(ramp));
});

test("growth during the warm-up is not judged", () => {
  const verdict = judgeTrend(series(60, (i) => (i < 6 ? 20 * MiB * (i + 1) : 120 * MiB)), options);
  assert.ok(verdict.judged && verdict.flat, JSON.stringify(verdict));
});

test("a small process may rise by the absolute tolerance; a large one by the fraction", () => {
  assert.ok((judgeTrend(series(30, (i) => 20 * MiB + i * (6 * MiB / 30)), options) as { flat: boolean }).flat);
  assert.ok(!(judgeTrend(series(30, (i) => 20 * MiB + i * (12 * MiB / 30)), options) as { flat: boolean }).flat);
  assert.ok((judgeTrend(series(30, (i) => 400 * MiB + i * (30 * MiB / 30)), options) as { flat: boolean }).flat);
});

/** Samples i in [from, to) marked as taken during a backlog (the cloud down, the relay draining). */
const backlogBetween = (samples: MemorySample[], from: number, to: number): MemorySample[] => samples.map((s, i) => (i >= from && i < to ? { ...s, backlog: true } : s));

test("a run that ends while a backlog is built (heap rising with the outbox's working set) is not judged by it; unmarked, the same series is growing", () => {
  const at = (i: number) => 100 * MiB + (i < 80 ? 0 : (i - 80) * MiB) + (i % 5) * MiB;
  const unmarked = judgeTrend(series(120, at), options);
  assert.ok(unmarked.judged && unmarked.state === "growing", JSON.stringify(unmarked));
  const marked = judgeTrend(backlogBetween(series(120, at), 80, 120), options);
  assert.ok(marked.judged && marked.state === "flat", JSON.stringify(marked));
  assert.is(marked.backlogSamples, 40);
});

test("memory a drain returns is flat across it; memory that keeps rising after the drain is growing, the backlog left out or not", () => {
  const returned = (i: number) => 100 * MiB + (i >= 50 && i < 70 ? (i - 50) * 2 * MiB : 0) + (i % 5) * MiB;
  const ok = judgeTrend(backlogBetween(series(150, returned), 50, 70), options);
  assert.ok(ok.judged && ok.state === "flat", JSON.stringify(ok));
  const leaked = (i: number) => 100 * MiB + (i < 50 ? 0 : i < 70 ? (i - 50) * 2 * MiB : 40 * MiB + (i - 70) * 0.5 * MiB);
  const leak = judgeTrend(backlogBetween(series(150, leaked), 50, 70), options);
  assert.ok(leak.judged && leak.state === "growing" && !leak.flat, JSON.stringify(leak));
});

test("a run spent mostly in a backlog: not judged, and says why", () => {
  const verdict = judgeTrend(backlogBetween(series(20, () => MiB), 9, 20), options);
  assert.equal(verdict.judged, false);
  assert.match((verdict as { reason: string }).reason, /3 samples after the warm-up outside a backlog \(11 during one\)/);
});

test("too few samples after the warm-up: not judged, and says so", () => {
  const verdict = judgeTrend(series(8, () => MiB), options);
  assert.equal(verdict.judged, false);
  assert.match((verdict as { reason: string }).reason, /2 samples after the warm-up/);
});

test("slope: least squares", () => {
  assert.is(slope([{ t: 0, bytes: 0 }, { t: 10, bytes: 10 }, { t: 20, bytes: 20 }]), 1);
  assert.is(slope([{ t: 5, bytes: 3 }, { t: 5, bytes: 4 }]), 0);
});

test.run();
