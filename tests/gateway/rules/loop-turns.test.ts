/*
 * The rules' turns on the event loop (hosts/gateway/rules/loop-turns.ts):
 * one piece per turn, so what the loop has to do between two pieces (a
 * timer due, a socket to read, an fsync's completion) is done before the
 * next piece, however many are queued; in order; a piece that throws is
 * logged and the next ones still run.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { performance } from "node:perf_hooks";
import { createMemoryLogger } from "../../../hosts/log/logger.js";
import { LoopTurns } from "../../../hosts/gateway/rules/loop-turns.js";

/** Holds the loop, as a piece of real work would: the 1 ms timer below is due once it returns. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

test("pieces queued together run one per turn: a timer that falls due during the first runs before the second", async () => {
  const turns = new LoopTurns(createMemoryLogger());
  const order: string[] = [];
  const done = new Promise<void>((resolve) => {
    for (const name of ["a", "b", "c"]) {
      turns.run(() => {
        order.push(name);
        // Due before the first piece returns.
        if (name === "a") setTimeout(() => order.push("timer"), 1);
        busy(3);
        if (name === "c") resolve();
      });
    }
  });
  await done;
  // Run back to back (one setImmediate each, queued together), the three would all come before the timer.
  assert.equal(order, ["a", "timer", "b", "c"]);
});

test("turn(): the awaiting code runs in its own turn, in the order asked; a throwing piece is logged and the queue goes on", async () => {
  const logger = createMemoryLogger();
  const turns = new LoopTurns(logger);
  const order: number[] = [];
  turns.run(() => {
    throw new Error("a rule's piece failed");
  });
  await Promise.all([1, 2, 3].map(async (n) => {
    await turns.turn();
    order.push(n);
  }));
  assert.equal(order, [1, 2, 3]);
  assert.equal(turns.waiting, 0);
  assert.ok(logger.lines.some((line) => line.level === "error" && String(line.msg).includes("a rule's piece failed")), JSON.stringify(logger.lines));
});

test.run();
