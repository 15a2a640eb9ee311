/*
 * The rules' pure parts, directly: the rule API's helpers, sensor
 * patterns, source-map lines, the fault policy, the relay's verdict gate
 * and the checks a deploy makes before building.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { hysteresis, readingOf } from "../../../rules/index.js";
import { RuleSelector } from "../../../hosts/gateway/rules/rule-selector.js";
import { decodeSegment, firstFrameLine, SourceLines } from "../../../hosts/gateway/rules/source-lines.js";
import { afterFault, MAX_CONSECUTIVE_FAILURES } from "../../../hosts/gateway/rules/fault-policy.js";
import { RelayVerdicts, type DecidingRule } from "../../../hosts/gateway/rules/relay-verdicts.js";
import { checkBuildRequest, contentHash, MAX_RULE_SOURCE_BYTES } from "../../../hosts/gateway/rules/rule-build.js";
import { roundReading } from "../../../hosts/gateway/rules/rule-commits.js";
import { faultLine, describeFault } from "../../../hosts/gateway/rules/fault-report.js";
import type { StoredObservation } from "../../../hosts/gateway/store/observation-store.js";
import { onlyObservation, planDelivery } from "../../../hosts/gateway/rules/delivery-plan.js";
import { RuleFaults } from "../../../hosts/gateway/rules/rule-faults.js";
import { ruleVersion } from "../../../hosts/gateway/rules/rule-version.js";
import type { InputRow } from "../../../hosts/gateway/rules/input-window.js";
import { deliverRequestJson, observationJson } from "../../../hosts/gateway/rules/delivery-encoding.js";
import type { WireEvent } from "../../../hosts/gateway/rules/xs/protocol.js";

test("hysteresis: on past one threshold, off only past the other, both directions; bounds the wrong way round are refused", () => {
  const warm = { raiseAbove: -15, clearBelow: -18 };
  const trace = [-20, -16, -14, -16, -17.9, -18, -18.1, -16].reduce<boolean[]>((states, t) => [...states, hysteresis(states.at(-1) ?? false, t, warm)], []);
  assert.equal(trace, [false, false, true, true, true, true, false, false]);
  const cold = { raiseBelow: 5, clearAbove: 7 };
  assert.equal([4, 6, 7, 7.1].reduce<boolean[]>((s, t) => [...s, hysteresis(s.at(-1) ?? false, t, cold)], []), [true, true, true, false]);
  assert.throws(() => hysteresis(false, 1, { raiseAbove: 1, clearBelow: 2 }), RangeError);
  assert.throws(() => hysteresis(false, 1, { raiseBelow: 2, clearAbove: 1 }), RangeError);
});

test("readingOf: the value of a quantity, undefined when absent", () => {
  const o = { readings: [{ quantity: "temperature" as const, value: 21.5 }, { quantity: "humidity" as const, value: 40 }] };
  assert.is(readingOf(o, "humidity"), 40);
  assert.is(readingOf(o, "pressure"), undefined);
});

test("sensor patterns: * any run, ? one character, several patterns; quantities matched in the stored JSON without parsing it", () => {
  const s = new RuleSelector(["greenhouse-*", "lab-?"], ["humidity"]);
  assert.ok(s.matchesSensor("greenhouse-7"));
  assert.ok(s.matchesSensor("greenhouse-"));
  assert.ok(s.matchesSensor("lab-1"));
  assert.not.ok(s.matchesSensor("lab-12"));
  assert.not.ok(s.matchesSensor("xgreenhouse-7"));
  assert.not.ok(new RuleSelector(["a.b"], null).matchesSensor("aXb"), "a dot is a dot");
  const stored = JSON.stringify([{ quantity: "temperature", value: 1 }, { quantity: "humidity", value: 2 }]);
  assert.ok(s.matchesRow("lab-1", stored));
  assert.not.ok(s.matchesRow("lab-1", JSON.stringify([{ quantity: "temperature", value: 1 }])));
  assert.ok(s.matches("lab-1", [{ quantity: "humidity", value: 2 }]));
  assert.ok(new RuleSelector(["*"], null).matchesRow("anything", "[]"));
});

test("source maps: VLQ segments decode; a bundle line maps to its source line; stack frames name bundle lines", () => {
  assert.equal(decodeSegment("AAAA"), [0, 0, 0, 0]);
  assert.equal(decodeSegment("AACA"), [0, 0, 1, 0]);
  assert.equal(decodeSegment("gBAAD"), [16, 0, 0, -1]);
  assert.equal(decodeSegment("2HAEe"), [123, 0, 2, 15]);
  // Line 1 → source 0 line 1; line 2 unmapped; line 3 → source 1 line 5; line 4 → source 1 line 4.
  const lines = new SourceLines({ sources: ["index.js", "rule.ts"], mappings: "AAAA;;ACIA;AAAC,CAAA" });
  assert.equal(lines.original(1), { source: "index.js", line: 1 });
  assert.is(lines.original(2), undefined);
  assert.equal(lines.original(3), { source: "rule.ts", line: 5 });
  assert.equal(lines.original(4), { source: "rule.ts", line: 5 });
  assert.throws(() => decodeSegment("A!"), SyntaxError);
  assert.is(firstFrameLine("Error: x\n at f (#2:3)\n at onObservation (freezer.js:12)\n at g (freezer.js:3)", "freezer.js"), 12);
  assert.is(firstFrameLine("Error: x\n at f (#2:3)", "freezer.js"), undefined);
});

test("fault lines: a throw's first frame through the map; a tripped limit at the handler's definition", () => {
  const version = { file: "f.ts", bundleFile: "f.js", source: "import x;\n\nexport default defineRule({\n  onTimer(key, ctx) {\n", sourceMap: "" };
  const lines = () => new SourceLines({ sources: ["f.ts"], mappings: "AAAA;AACA;AACA;AACA;AACA" });
  assert.is(faultLine({ kind: "throw", message: "m", stack: "E\n at onTimer (f.js:4)", handler: "onTimer" }, version, lines), "f.ts:4");
  assert.is(faultLine({ kind: "compute", message: "m", handler: "onTimer" }, version, lines), "f.ts:4");
  assert.is(faultLine({ kind: "state", message: "m", handler: "state" }, version, lines), undefined);
  assert.is(
    describeFault({ kind: "compute", message: "out", handler: "onTimer" }, "f.ts:4", { timer: "k" }),
    'compute in onTimer (f.ts:4) in timer "k": out',
  );
  assert.is(
    describeFault({ kind: "throw", message: "Error: x", handler: "onObservation" }, undefined, { observation: { id: 3, sensorId: "s", seq: 9 } }),
    "throw in onObservation on observation 3 (s seq 9): Error: x",
  );
});

test("fault policy: retried after the delays, disabled at the third failure in a row", () => {
  assert.equal(afterFault(1, [10, 20]), { disable: false, retryInMs: 10 });
  assert.equal(afterFault(2, [10, 20]), { disable: false, retryInMs: 20 });
  assert.equal(afterFault(MAX_CONSECUTIVE_FAILURES, [10, 20]), { disable: true });
  assert.is(MAX_CONSECUTIVE_FAILURES, 3);
});

function row(id: number, sensorId: string, receivedAt: number): StoredObservation {
  return { id, observation: { sensorId, seq: id, boot: 1, uptimeMs: id, readings: [{ quantity: "temperature", value: 1 }] }, receivedAt, relayedAt: null };
}

test("relay verdicts: rows of a deciding rule's sensors wait for its commit, up to the bound, then go (counted once); later rows of a held sensor wait too", () => {
  const rule: DecidingRule & { committedPosition: number; givesVerdicts: boolean } = {
    selector: new RuleSelector(["g-*"], null), committedPosition: 2, givesVerdicts: true,
  };
  const gate = new RelayVerdicts(() => [rule], (sensorId) => sensorId.endsWith(".avg"), 1000);
  const rows = [row(1, "g-1", 0), row(2, "o-1", 0), row(3, "g-1", 500), row(4, "o-1", 500), row(5, "g-1.avg", 500), row(6, "g-2", 900), row(7, "g-1", 100)];
  assert.equal(gate.admit(rows, 1000).map((r) => r.id), [1, 2, 4, 5], "g-1's row 3 and its later row 7 wait, g-2's row 6 too");
  assert.is(gate.stats().held, 3);
  rule.committedPosition = 3;
  assert.equal(gate.admit(rows.slice(2), 1000).map((r) => r.id), [3, 4, 5], "the rule's verdict on row 3 is committed; rows 6 and 7 still wait");
  assert.is(gate.stats().verdictTimeouts, 0);
  assert.equal(gate.admit(rows.slice(3), 1100).map((r) => r.id), [4, 5, 7], "row 7 (received at 100) has waited its 1000 ms: relayed anyway");
  assert.is(gate.stats().verdictTimeouts, 1, "and counted");
  gate.admit([row(7, "g-1", 100)], 2000);
  assert.is(gate.stats().verdictTimeouts, 1, "the same row read again is not a second timeout");
  assert.ok(gate.isLate(7), "a keep-local verdict for row 7 now comes too late");
  assert.not.ok(gate.isLate(7));
  assert.is(gate.stats().lateVerdicts, 1);
  rule.givesVerdicts = false;
  assert.equal(gate.admit([row(8, "g-1", 1999)], 2000).map((r) => r.id), [8], "a disabled rule holds nothing");
  // A rule that selects by quantity holds only the rows that carry it, whatever else its sensor sends.
  const byQuantity = new RelayVerdicts(() => [{ selector: new RuleSelector(["q-*"], ["humidity"]), committedPosition: 0, givesVerdicts: true }], () => false, 1000);
  const humid = { ...row(10, "q-1", 500), observation: { ...row(10, "q-1", 500).observation, readings: [{ quantity: "humidity" as const, value: 40 }] } };
  assert.equal(byQuantity.admit([row(9, "q-1", 500), humid, row(11, "q-2", 500)], 1000).map((r) => r.id), [9, 11], "q-1's humidity row waits; its temperature row before it, and q-2's, go");
});

test("a deploy's request is checked before anything runs: source present, within the limit, a plain .ts file name", () => {
  assert.equal(checkBuildRequest("x", undefined), { source: "x", file: "rule.ts" });
  assert.equal(checkBuildRequest("x", "freezer-alarm.ts"), { source: "x", file: "freezer-alarm.ts" });
  for (const [source, file] of [["", "a.ts"], [1, "a.ts"], ["x", "a.js"], ["x", "../a.ts"], ["x", "dir/a.ts"], ["x".repeat(MAX_RULE_SOURCE_BYTES + 1), "a.ts"]]) {
    assert.throws(() => checkBuildRequest(source, file), /source|file/);
  }
  assert.is(contentHash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "SHA-256, as sha256sum prints it");
});

test("derived values are rounded to their quantity's resolution, as a device's record would carry them", () => {
  assert.equal(roundReading({ quantity: "temperature", value: 9.2614 }), { quantity: "temperature", value: 9.26 });
  assert.equal(roundReading({ quantity: "pressure", value: 101325.4 }), { quantity: "pressure", value: 101325 });
});

function input(id: number, sensorId: string): InputRow {
  const readings = [{ quantity: "temperature" as const, value: 1 }];
  return { observation: { id, sensorId, seq: id, time: null, receivedAt: id, readings }, readings: JSON.stringify(readings) };
}

test("a delivery's plan: the selected observations after the offset, up to the cap or one while cautious, and a tick only once caught up", () => {
  const selector = new RuleSelector(["a-*"], null);
  const rows = [input(11, "a-1"), input(12, "b-1"), input(13, "a-2")];
  const ids = (plan: ReturnType<typeof planDelivery>) => plan.events.map((e) => (e.kind === "observation" ? e.o.id : `tick@${e.now}`));
  const caught = planDelivery(rows, 10, selector, { cautious: false, nextTimerAt: 50, now: 100 });
  assert.equal([ids(caught), caught.through, caught.caughtUp], [[11, 13, "tick@100"], 13, true]);
  assert.equal(ids(planDelivery(rows, 10, selector, { cautious: false, nextTimerAt: 150, now: 100 })), [11, 13], "no timer due");
  const full = planDelivery(rows, 10, selector, { cautious: false, nextTimerAt: 50, now: 100, readRows: 3 });
  assert.equal([ids(full), full.caughtUp], [[11, 13], false], "a full read may have more behind it: observations move the clock, no tick");
  const cautious = planDelivery(rows, 10, selector, { cautious: true, nextTimerAt: 50, now: 100 });
  assert.equal([ids(cautious), cautious.through, cautious.caughtUp], [[11], 11, false]);
  const none = planDelivery([input(12, "b-1")], 11, selector, { cautious: false, nextTimerAt: null, now: 100 });
  assert.equal([none.events, none.through], [[], 12], "nothing selected: only the offset moves");
  assert.equal(onlyObservation(cautious.events), { observation: { id: 11, sensorId: "a-1", seq: 11 } });
  assert.equal(onlyObservation(caught.events), {});
});

test("a rule's faults: counted by kind, stepped past one event at a time, in a row until the failed event passes", () => {
  const version = ruleVersion(
    { rule: "r", version: 1, hash: "h", file: "r.ts", source: "x", bundle: "", sourceMap: '{"sources":[],"mappings":""}', deployedAt: 0 },
    { name: "r", description: "", sensors: ["*"], quantities: null, relay: "all", start: "new", limits: { computePerEvent: 1, memoryBytes: 1, stateBytes: 1 }, handlers: { onObservation: true, onTimer: false, selfTest: false } },
  );
  const faults = new RuleFaults();
  const events = [11, 12, 13].map((id) => ({ kind: "observation" as const, o: { id, sensorId: "s", seq: id, time: null, receivedAt: id, readings: [] } }));
  const first = faults.record({ kind: "compute", message: "out", handler: "onObservation" }, version, {}, events, undefined, 1, [10, 20]);
  assert.match(first.message, /^compute in onObservation: out \(during observations 11–13\)$/);
  assert.equal(first.decision, { disable: false, retryInMs: 10 });
  assert.ok(faults.cautiousAt(10) && faults.cautiousAt(12) && !faults.cautiousAt(13));
  faults.succeeded(11);
  assert.is(faults.consecutive, 1, "11 is before the failure's end: still in a row");
  assert.equal(faults.record({ kind: "throw", message: "x", handler: "onObservation" }, version, {}, events.slice(1, 2), 12, 2, [10, 20]).decision, { disable: false, retryInMs: 20 });
  assert.equal(faults.record({ kind: "throw", message: "x", handler: "onObservation" }, version, {}, events.slice(1, 2), 12, 3, [10, 20]).decision, { disable: true });
  assert.equal([faults.byKind, faults.total, faults.lastError?.at], [{ compute: 1, throw: 2 }, 3, 3]);
  faults.succeeded(12);
  assert.equal([faults.consecutive, faults.cautiousAt(11)], [0, false], "past it: no longer in a row, no longer cautious");
});

test("a delivery's JSON: what JSON.stringify of the request says, with each observation's text encoded once for every rule it goes to", () => {
  const odd = { id: 7, sensorId: 'quote"back\\slash-é-\u2028', seq: 3, time: null, receivedAt: 1000, readings: [{ quantity: "temperature" as const, value: -0.5 }] };
  const plain = { id: 8, sensorId: "s-1", seq: 4, time: 1733280000123, receivedAt: 1001, readings: [] };
  const events: WireEvent[] = [{ kind: "observation", o: odd }, { kind: "tick", now: 1002 }, { kind: "observation", o: plain }];
  for (const slot of ["count@1", 'odd"slot']) {
    const json = deliverRequestJson(slot, events);
    assert.equal(JSON.parse(json), { op: "deliver", slot, events });
    assert.is(json, JSON.stringify({ op: "deliver", slot, events }), "the same text, so the rule host reads the same");
  }
  assert.is(deliverRequestJson("none@1", []), JSON.stringify({ op: "deliver", slot: "none@1", events: [] }));
  assert.is(observationJson(odd), observationJson(odd));
  assert.is(observationJson(odd), JSON.stringify(odd));
});

test.run();
