/*
 * Virtual time is deterministic for a seed: the same scenario and seed give
 * the same trace, byte for byte (however many workers the fleet is split
 * between), and another seed gives another. The scenario exercises what
 * could let the machine leak in: noise, NACKs, jittered and lossy links,
 * a partition, a gateway restart, a power cut.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readScenarioText } from "../../simulator/scenario/scenario-file.js";
import { runScenario, type ScenarioReport } from "../../simulator/scenario/scenario-runner.js";
import type { Scenario } from "../../simulator/scenario/scenario-types.js";

const SCENARIO = `name: determinism
seed: 11
duration: 3m
drain: 30s
network: { latency: 5ms, jitter: 4ms, loss: 0.02 }
devices:
  - { name: t, count: 2, part: tmp117, samplePeriod: 1s, batchMaxAge: 5s }
  - { name: s, count: 2, part: sht3x, samplePeriod: 2s, batchMaxAge: 6s }
  - name: b
    part: bme280
    samplePeriod: 1s
    batchMaxAge: 4s
    signals: { pressure: { kind: randomWalk, start: 101000, step: 1s, stepSize: 20 } }
events:
  - { at: 20s, devices: s-1, faults: { nack: 0.3 }, for: 40s }
  - { at: 30s, devices: t-2, network: { partitioned: true }, for: 45s }
  - { at: 50s, gateway: restart, downFor: 5s }
  - { at: 70s, devices: b-1, powerCut: { during: write, after: 1 }, rebootAfter: 5s }
expect:
  - delivered: { exceptPowerCuts: true, devices: t-* }
  - noUncaught
`;

function scenario(workers?: number): Scenario {
  const read = readScenarioText("determinism.yaml", SCENARIO);
  if (!read.ok) throw new Error(read.errors.join("\n"));
  return { ...read.scenario, workers };
}

async function traced(s: Scenario, seed?: number): Promise<{ trace: string; report: ScenarioReport }> {
  const lines: string[] = [];
  const report = await runScenario(s, { seed, trace: (line) => lines.push(line) });
  return { trace: lines.join("\n") + "\n", report };
}

test("the same seed gives the same trace byte for byte, split between one worker or three; another seed another", async () => {
  const first = await traced(scenario(1));
  const again = await traced(scenario(1));
  const split = await traced(scenario(3));
  const other = await traced(scenario(1), 12);
  assert.ok(first.trace.length > 10_000, "a trace of some substance");
  for (const kind of ['"trace":"observation seq=', '"event":"gw.store"', '"event":"cloud.batch"', '"event":"gw.down"', '"halted":', '"action":"network']) {
    assert.ok(first.trace.includes(kind), `the trace has ${kind}`);
  }
  assert.ok(first.trace === again.trace, "same seed, same bytes");
  assert.ok(first.trace === split.trace, "the split between workers changes nothing");
  assert.ok(first.trace !== other.trace, "another seed, another run");
  assert.equal(first.report.totals, again.report.totals);
  assert.ok(first.report.ok, JSON.stringify(first.report.expectations));
  assert.is(first.report.totals.powerCuts, 1);
  assert.is(first.report.world.gateway.restarts, 1);
});

test.run();
