/*
 * Reentrant power-cut tests in the littlefs style: run a workload of appends
 * and releases, cut power inside its 1st, 2nd, 3rd ... flash operation (every
 * one up to the end), remount on the same bytes and check what the uplink
 * was told against what flash holds. Then keep using the log, cut power once
 * more inside that, remount and check again, and finish with a clean round.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FlashLog, type FlashLogOptions } from "../../modules/storage/flash-log.js";
import { NorFlash, PowerCut } from "../../simulator/storage/nor-flash.js";
import { checkAgainst, ids, readAll, recordFor, runWorkload, settle, Tracker, type WorkloadOptions } from "../support/flash-log-records.js";

const BLOCK = 512;

interface Scenario {
  name: string;
  blocks: number;
  options: FlashLogOptions;
  workload: WorkloadOptions;
  /** The workload overfills the log under drop-oldest: the oldest records may go. */
  drops: boolean;
  /** What the uncut run must show, so the scenario really exercises its case. */
  expect: (log: FlashLog) => void;
}

const isCut = (e: unknown): boolean => e instanceof PowerCut;

// Appends six, then releases all but the newest: the device's next minutes after a reboot.
function continueWork(log: FlashLog, tracker: Tracker): void {
  for (let n = 0; n < 6; n++) {
    const id = tracker.nextId++;
    tracker.pendingAppend = id;
    if (log.append(recordFor(id))) tracker.expected.push(id);
    tracker.pendingAppend = undefined;
  }
  const entries = readAll(log);
  if (entries.length < 2) return;
  const upTo = entries[entries.length - 2];
  tracker.pendingRelease = upTo.id;
  log.release(upTo.position);
  tracker.expected = tracker.expected.filter((id) => id > upTo.id);
  tracker.pendingRelease = undefined;
}

function remountAndCheck(flash: NorFlash, scenario: Scenario, tracker: Tracker, context: string): FlashLog {
  flash.restorePower();
  const log = FlashLog.mount(flash, scenario.options);
  const found = ids(readAll(log));
  try {
    checkAgainst(tracker, found, scenario.drops);
  } catch (error) {
    (error as Error).message = `${context}: ${(error as Error).message}`;
    throw error;
  }
  assert.is(log.records, found.length, `${context}: record count`);
  assert.equal(ids(readAll(FlashLog.mount(flash, scenario.options))), found, `${context}: a second mount finds the same`);
  settle(tracker, found);
  return log;
}

const SEEDS = [1, 2];
const summary: string[] = [];

function reentrant(scenario: Scenario): void {
  test(`${scenario.name}: power cut inside every flash operation of the workload`, () => {
    const clean = new NorFlash({ blockSize: BLOCK, blocks: scenario.blocks });
    const cleanLog = FlashLog.mount(clean, scenario.options);
    runWorkload(cleanLog, new Tracker(), scenario.workload);
    scenario.expect(cleanLog);
    const total = clean.operations;
    assert.ok(total > 300, `the workload makes ${total} flash operations`);

    const started = Date.now();
    for (let k = 0; k < total; k++) {
      for (const seed of SEEDS) {
        const context = `${scenario.name}, cut in operation ${k + 1} of ${total}, seed ${seed}`;
        const flash = new NorFlash({ blockSize: BLOCK, blocks: scenario.blocks, seed: seed * 100_003 + k });
        const tracker = new Tracker();
        flash.cutPowerAfter(k);
        assert.throws(() => runWorkload(FlashLog.mount(flash, scenario.options), tracker, scenario.workload), isCut, context);
        let log = remountAndCheck(flash, scenario, tracker, context);

        flash.cutPowerAfter(k % 17);
        try {
          continueWork(log, tracker);
          flash.restorePower();
        } catch (error) {
          if (!isCut(error)) throw error;
        }
        log = remountAndCheck(flash, scenario, tracker, `${context}, then cut again in operation ${(k % 17) + 1} after remount`);

        // Whatever happened, the log still takes, returns and releases records.
        const last = readAll(log).pop();
        if (last) log.release(last.position);
        assert.ok(log.append(recordFor(tracker.nextId)), `${context}: append after recovery`);
        const final = readAll(log);
        assert.equal(ids(final), [tracker.nextId], `${context}: only the new record is unreleased`);
        assert.is(log.release(final[0].position), 1);
        assert.is(FlashLog.mount(flash, scenario.options).records, 0, `${context}: nothing comes back`);
      }
    }
    summary.push(`${scenario.name}: ${total} cut points x ${SEEDS.length} seeds in ${Date.now() - started} ms`);
  });
}

reentrant({
  name: "steady uplink",
  blocks: 4,
  options: { policy: "drop-oldest" },
  workload: { steps: 110, lag: 3, releaseEvery: 2 },
  drops: false,
  expect: (log) => {
    assert.is(log.stats().dropped, 0);
    assert.ok(Math.min(...log.stats().eraseCounts) >= 3, "the ring laps several times");
  },
});

reentrant({
  name: "steady uplink across the sequence wrap",
  blocks: 4,
  options: { policy: "drop-oldest", initialSequence: 0xffffffff - 6 },
  workload: { steps: 110, lag: 3, releaseEvery: 2 },
  drops: false,
  expect: (log) => assert.ok(Math.min(...log.stats().eraseCounts) >= 3),
});

reentrant({
  name: "gateway away, drop-oldest",
  blocks: 3,
  options: { policy: "drop-oldest" },
  workload: { steps: 80, lag: 40, releaseEvery: 5 },
  drops: true,
  expect: (log) => assert.ok(log.stats().dropped > 0, "the log overflows"),
});

reentrant({
  name: "gateway away, refuse-newest",
  blocks: 3,
  options: { policy: "refuse-newest" },
  workload: { steps: 150, lag: 2, releaseEvery: 20 },
  drops: false,
  expect: (log) => assert.ok(log.stats().refused > 0, "the log fills"),
});

test.after(() => {
  for (const line of summary) console.log(`  ${line}`);
});

test.run();
