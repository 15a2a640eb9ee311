/*
 * Scenario files: what a good one reads as, and that every mistake is
 * reported naming the file, line, column and field, all at once, in the
 * order of the file.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readScenarioText } from "../../simulator/scenario/scenario-file.js";
import { formatDuration, parseDuration } from "../../simulator/scenario/yaml-fields.js";

const GOOD = `name: test fleet
seed: 7
duration: 1h30m
network: { latency: 10ms, jitter: 5ms, loss: 0.01 }
devices:
  - name: g
    count: 3
    part: sht3x
    samplePeriod: 30s
    signals:
      temperature: { kind: sine, mean: 21, amplitude: 3, period: 1d, noise: 0.05 }
      humidity: { kind: trace, file: rh.csv, loop: true }
    faults: { badCrc: 0.1 }
  - { name: b, part: bme280, bootAt: 1m, config: { keepAliveSeconds: 60 }, registered: false }
events:
  - { at: 10m, cloud: down }
  - { at: 1h10m, cloud: up }
  - { at: 5m, devices: g-*, faults: { disconnected: true }, for: 2m }
  - { at: 6m, devices: [g-1, b-1], powerCut: { during: erase, after: 2 }, rebootAfter: 30s }
  - { at: 7m, devices: all, network: { partitioned: true }, for: 30s }
expect:
  - delivered: exactly-once
  - noUncaught
  - backlogDrains: { after: 1h10m, within: 5m }
  - readings: { devices: g-2, quantity: humidity, from: 5m, to: 7m, absent: true }
`;

const read = (text: string, name = "f.yaml", traces: Record<string, string> = {}) =>
  readScenarioText(name, text, (file) => {
    if (!(file in traces)) throw new Error(`no such file ${file}`);
    return traces[file];
  });

function errors(text: string, name = "f.yaml"): string[] {
  const result = read(text, name);
  assert.not.ok(result.ok, "the file should be refused");
  return result.ok ? [] : result.errors;
}

test("a good scenario reads with its defaults filled in and its positions kept", () => {
  const result = read(GOOD, "fleet.yaml", { "rh.csv": "time,rh\n0s,50\n1h,60\n" });
  if (!result.ok) throw new Error(result.errors.join("\n"));
  const s = result.scenario;
  assert.equal([s.name, s.seed, s.time, s.durationMs, s.gateway.kind], ["test fleet", 7, "virtual", 5_400_000, "model"]);
  assert.equal(s.network, { latencyMs: 10, jitterMs: 5, loss: 0.01, partitioned: false });
  assert.equal(s.groups.map((g) => [g.name, g.count, g.part, g.samplePeriodMs, g.batchMaxAgeMs, g.bootAtMs, g.registered]), [
    ["g", 3, "sht3x", 30_000, 10_000, 0, true],
    ["b", 1, "bme280", 1000, 10_000, 60_000, false],
  ]);
  assert.equal(s.groups[0].signals.humidity, { kind: "trace", points: [[0, 50], [3_600_000, 60]], loop: true, noise: undefined });
  assert.equal(s.groups[0].faults, { badCrc: 0.1 });
  assert.equal(s.events.map((e) => [e.atMs, e.action.kind, e.forMs]), [
    [300_000, "faults", 120_000], [360_000, "powerCut", undefined], [420_000, "network", 30_000], [600_000, "cloud", undefined], [4_200_000, "cloud", undefined],
  ], "in order of time");
  assert.equal(s.events[1].action, { kind: "powerCut", devices: { patterns: ["g-1", "b-1"] }, during: "erase", after: 2, rebootAfterMs: 30_000 });
  assert.is(s.events[0].where, "fleet.yaml:18:5");
  assert.equal(s.expectations.map((e) => e.expectation.kind), ["delivered", "noUncaught", "backlogDrains", "readings"]);
  assert.is(s.expectations[2].where, "fleet.yaml:24:5");
  assert.ok(s.drainMs > 0, "a drain long enough for the last batch");
});

test("JSON scenarios read the same, and JSON syntax errors point at the line", () => {
  const json = JSON.stringify({ name: "j", duration: "10m", devices: [{ name: "d" }] }, null, 2);
  const result = read(json, "s.json");
  assert.ok(result.ok && result.scenario.groups[0].part === "tmp117");
  assert.match(errors('{\n  "name": "j",\n  "duration": 5,\n}\n', "s.json")[0], /^s\.json:4:1: JSON syntax error/);
  assert.match(errors("name: x\n  bad: [\n", "s.yaml")[0], /^s\.yaml:\d+:\d+: YAML syntax error/);
  assert.match(errors("name: x\n", "s.txt")[0], /s\.txt: a scenario file must end in \.yaml, \.yml or \.json/);
});

test("every mistake is reported at once, in the file's order, naming file, line, column and field", () => {
  const list = errors(`name: broken
duration: soon
tme: virtual
devices:
  - name: d
    count: 0
    part: bmp180
    samplePeriod: 5ms
    signals:
      temperature: { kind: sin, mean: 21 }
      humidity: { kind: sine, mean: 50 }
  - name: t
    part: tmp117
    faults: { badCrc: 0.5, nack: 2 }
events:
  - at: 2m
    devices: x-*
    faults: { stuck: true }
  - { at: 3m, cloud: sideways, gateway: kill }
  - { at: 4m, devices: t-1, power: off, downFor: 1m }
  - { at: 9h, cloud: down }
expect:
  - deliverd: true
  - readings: { devices: t-1, from: 5m, to: 2m, constant: true }
`);
  const expected = [
    /^f\.yaml:2:11: duration: must be a duration such as 90s, 10m or 1h30m, got "soon"$/,
    /^f\.yaml:3:1: tme: unknown key \(did you mean time\?\)$/,
    /^f\.yaml:6:12: devices\[0\]\.count: must be an integer from 1 to 20000, got 0$/,
    /^f\.yaml:7:11: devices\[0\]\.part: must be one of tmp117, sht3x, bme280, got "bmp180" \(did you mean bme280\?\)$/,
    /^f\.yaml:8:19: devices\[0\]\.samplePeriod: must be from 10ms to /,
    /^f\.yaml:10:28: devices\[0\]\.signals\.temperature\.kind: must be one of constant, sine, randomWalk, trace, got "sin"$/,
    /^f\.yaml:11:17: devices\[0\]\.signals\.humidity\.amplitude: is required$/,
    /^f\.yaml:14:23: devices\[1\]\.faults\.badCrc: tmp117 results carry no CRC/,
    /^f\.yaml:14:34: devices\[1\]\.faults\.nack: must be a number from 0 to 1, got 2$/,
    /^f\.yaml:17:14: events\[0\]\.devices: "x-\*" names no device of this scenario/,
    /^f\.yaml:19:5: events\[1\]: has cloud and gateway: one action per event$/,
    /^f\.yaml:20:50: events\[2\]\.downFor: does not apply to power$/,
    /^f\.yaml:23:5: expect\[0\]\.deliverd: unknown key \(did you mean delivered\?\)$/,
    /^f\.yaml:24:45: expect\[1\]\.readings\.to: must be after from$/,
  ];
  for (const pattern of expected) assert.ok(list.some((e) => pattern.test(e)), `expected an error matching ${pattern} among:\n${list.join("\n")}`);
  const lines = list.map((e) => Number(/^f\.yaml:(\d+):/.exec(e)?.[1]));
  assert.equal(lines, [...lines].sort((a, b) => a - b), "in the file's order");
});

test("the world must fit the time: the model in virtual time, a spawned or external gateway in real time", () => {
  const base = "name: w\nduration: 1m\ndevices: [{ name: d }]\n";
  assert.match(errors(base + "time: real\ngateway: { kind: model }\n").join("\n"), /gateway\.kind: the gateway model runs in virtual time/);
  assert.match(errors(base + "gateway: { kind: spawn }\n").join("\n"), /gateway\.kind: a spawn gateway runs in real time/);
  assert.match(errors(base + "time: real\ngateway: { kind: external }\n").join("\n"), /gateway\.address: is required for an external gateway/);
  assert.match(errors(base + "time: real\ngateway: { kind: external, address: 127.0.0.1:1883 }\nevents: [{ at: 10s, gateway: kill }]\n").join("\n"), /an external gateway is not the simulator's to kill/);
  assert.match(errors(base + "expect: [{ rateLimited: { min: 1 } }]\n").join("\n"), /rate limits are the real gateway's/);
  assert.match(errors(base + "network: { latency: 0ms }\n").join("\n"), /network\.latency: must be from 1ms/);
  assert.match(errors(base + "time: real\nstart: 2026-01-01T00:00:00Z\n").join("\n"), /start: is for virtual time/);
  assert.match(errors(base + "events: [{ at: 2m, cloud: down }]\n").join("\n"), /events\[0\]\.at: is after the scenario's end \(1m\)/);
  const real = read(base + "time: real\n");
  assert.ok(real.ok && real.scenario.gateway.kind === "spawn" && real.scenario.network.latencyMs === 0, "real time spawns the real gateway by default, no added latency");
});

test("a CSV trace that does not read names its line", () => {
  const text = "name: c\nduration: 1m\ndevices:\n  - name: d\n    signals:\n      temperature: { kind: trace, file: t.csv }\n";
  const bad = read(text, "c.yaml", { "t.csv": "time,value\n0s,20\n10s,21\nlater,22\n" });
  assert.not.ok(bad.ok);
  assert.match(bad.ok ? "" : bad.errors[0], /^c\.yaml:6:41: devices\[0\]\.signals\.temperature\.file: t\.csv:4: expected "time,value", got "later,22"$/);
  const missing = read(text, "c.yaml", {});
  assert.match(missing.ok ? "" : missing.errors[0], /temperature\.file: no such file t\.csv/);
});

test("durations read and print as people write them", () => {
  assert.equal(["500ms", "90s", "10m", "1h30m", "2d", "1.5s", "0s"].map(parseDuration), [500, 90_000, 600_000, 5_400_000, 172_800_000, 1500, 0]);
  assert.equal(["", "10", "ten minutes", "5x", "-3s"].map(parseDuration), [undefined, undefined, undefined, undefined, undefined]);
  assert.equal([5_400_000, 90_500, 0, 86_400_000].map(formatDuration), ["1h30m", "1m30s500ms", "0s", "1d"]);
});

test.run();
