/*
 * The bench's median of runs (bench/median.ts): how several runs of an
 * area's measurement become the one reported.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { median, medianOfRuns, spread } from "../../bench/median.js";

test("median: the middle value, or the mean of the middle two", () => {
  assert.is(median([3, 1, 2]), 2);
  assert.is(median([4, 1, 3, 2]), 2.5);
  assert.is(median([7]), 7);
  assert.ok(Number.isNaN(median([])));
});

test("runs combine leaf by leaf: numbers by their median, strings and booleans from the first run", () => {
  const runs = [
    { rate: 10, label: "first", ok: true, parts: [{ n: 1, name: "a" }, { n: 10, name: "b" }], nested: { x: 5 } },
    { rate: 30, label: "second", ok: false, parts: [{ n: 3, name: "a" }, { n: 30, name: "b" }], nested: { x: 1 } },
    { rate: 20, label: "third", ok: false, parts: [{ n: 2, name: "a" }, { n: 20, name: "b" }], nested: { x: 3 } },
  ];
  assert.equal(medianOfRuns(runs), { rate: 20, label: "first", ok: true, parts: [{ n: 2, name: "a" }, { n: 20, name: "b" }], nested: { x: 3 } });
});

test("a ratio is the median of the runs' ratios, not the ratio of medians", () => {
  const runs = [{ value: 1, baseline: 10, ratio: 0.1 }, { value: 9, baseline: 10, ratio: 0.9 }, { value: 5, baseline: 1, ratio: 5 }];
  assert.is(medianOfRuns(runs).ratio, 0.9);
});

test("a leaf missing from a run, or NaN in it, is left out of that leaf's median; no runs is an error", () => {
  assert.equal(medianOfRuns([{ a: 1, b: NaN }, { a: 3 }, { a: 5, b: 4 }] as Array<{ a: number; b?: number }>), { a: 3, b: 4 });
  assert.throws(() => medianOfRuns([]), /no runs/);
});

test("spread: the smallest and largest", () => {
  assert.equal(spread([3, 1, 2]), { min: 1, max: 3 });
});

test.run();
