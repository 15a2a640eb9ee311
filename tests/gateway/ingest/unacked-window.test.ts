/*
 * UnackedWindow (hosts/gateway/ingest/unacked-window.ts): how many external-broker
 * messages may await their commit at once, and when reading goes on.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { MAX_UNACKED_EXTERNAL, UnackedWindow } from "../../../hosts/gateway/ingest/unacked-window.js";

test("below the limit, reading goes on at once; the awaiting count and the largest follow", () => {
  const window = new UnackedWindow(3);
  const read: number[] = [];
  window.enter(() => read.push(1));
  window.enter(() => read.push(2));
  assert.equal(read, [1, 2]);
  assert.is(window.awaiting, 2);
  window.settle();
  window.settle();
  assert.is(window.awaiting, 0);
  assert.is(window.largest, 2);
});

test("at the limit, reading is held until a message settles; never more than the limit awaiting", () => {
  const window = new UnackedWindow(2);
  const read: number[] = [];
  window.enter(() => read.push(1));
  window.enter(() => read.push(2));
  assert.equal(read, [1], "the second message fills the window: the next is not read");
  assert.is(window.awaiting, 2);
  window.settle();
  assert.equal(read, [1, 2], "a settled commit lets the held reader go on");
  window.enter(() => read.push(3));
  assert.equal(read, [1, 2]);
  window.settle();
  window.settle();
  assert.equal(read, [1, 2, 3]);
  assert.is(window.awaiting, 0);
  assert.is(window.largest, 2);
});

test("a limit of 1 serializes: each message waits for the one before", () => {
  const window = new UnackedWindow(1);
  let read = 0;
  window.enter(() => read++);
  assert.is(read, 0);
  window.settle();
  assert.is(read, 1);
});

test("bad limits and a settle without a message are refused with an error naming them", () => {
  assert.throws(() => new UnackedWindow(0), /positive integer, got 0/);
  assert.throws(() => new UnackedWindow(1.5), /positive integer, got 1.5/);
  assert.throws(() => new UnackedWindow().settle(), /settle\(\) without a message awaiting/);
  assert.is(new UnackedWindow().limit, MAX_UNACKED_EXTERNAL);
});

test.run();
