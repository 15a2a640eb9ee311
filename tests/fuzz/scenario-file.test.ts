/*
 * Fuzzing scenario files (issue 2.6: every decoder that takes outside
 * bytes): the shipped scenarios mutated, documents of the format's own
 * shape with wrong values, and arbitrary text, read by `readScenarioText`
 * as `xsedge sim run` reads a file. Each is a scenario or a list of errors,
 * every one naming the file (and, where the text has one, a line and
 * column); never a throw, a hang, or an error that says nothing.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { readScenarioText, type ScenarioResult } from "../../simulator/scenario/scenario-file.js";
import { fc, fuzz, mutatedText, summary } from "../support/fuzz.js";

const SHIPPED = fileURLToPath(new URL("../../../simulator/scenarios/", import.meta.url));
const shipped = readdirSync(SHIPPED).filter((f) => /\.ya?ml$/.test(f)).map((f) => readFileSync(join(SHIPPED, f), "utf8"));
/** A trace file any scenario may name: two columns, as the shipped one. */
const TRACE = readFileSync(join(SHIPPED, "greenhouse-temperature.csv"), "utf8");

const scalar = fc.oneof(
  fc.integer({ min: -5, max: 100_000 }),
  fc.double({ noNaN: false }),
  fc.constantFrom("1s", "10m", "1h30m", "1d", "-1s", "0", "", "all", "g-*", "exactly-once", "sine", "sht3x", "bme280", "tmp117", "virtual", "real", "down", "up", "127.0.0.1:1883"),
  fc.string({ maxLength: 12 }),
  fc.boolean(),
  fc.constant(null),
);
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: "small", withCrossShrink: true }, scalar, fc.array(tie("node"), { maxLength: 3 }), fc.dictionary(fc.constantFrom("name", "count", "part", "kind", "at", "for", "devices", "faults", "signals", "mean", "period", "delivered", "within", "after", "cloud", "network", "seed"), tie("node"), { maxKeys: 4 })),
})).node;
/** The format's own top level, with values of any kind: reaches the field readers, not just the parser. */
const document = fc.record(
  { name: scalar, seed: scalar, time: scalar, duration: scalar, network: value, devices: fc.array(value, { maxLength: 3 }), events: fc.array(value, { maxLength: 3 }), expect: fc.array(value, { maxLength: 3 }) },
  { requiredKeys: [] },
);

const input = fc.oneof(
  { weight: 4, arbitrary: mutatedText(fc.constantFrom(...shipped), 6) },
  { weight: 3, arbitrary: document.map((d) => stringify(d)) },
  { weight: 1, arbitrary: document.map((d) => JSON.stringify(d)).map((text) => ({ text, json: true })) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
).map((x) => (typeof x === "string" ? { name: "fuzz.yaml", text: x } : { name: "fuzz.json", text: x.text }));

/** Shrunk counterexamples of past failures: each said "got undefined" for a value that is not there. */
const REGRESSIONS = [
  { name: "fuzz.yaml", text: "" },
  { name: "fuzz.yaml", text: "name: x\ndevices:\n  - { name: g, part: sht3x }\nevents:\n  - { at: 3m, devices, faults: { disconnected: true }, for: 2m }\n" },
];

const reached = { ok: 0, refused: 0 };

function readsOrRefuses({ name, text }: { name: string; text: string }): void {
  const result: ScenarioResult = readScenarioText(name, text, (file) => {
    if (file.endsWith(".csv")) return TRACE;
    throw new Error(`no such file: ${file}`);
  });
  if (result.ok) {
    reached.ok++;
    assert.type(result.scenario, "object");
    return;
  }
  reached.refused++;
  assert.ok(result.errors.length > 0, "a refusal has errors");
  for (const error of result.errors) {
    assert.type(error, "string");
    assert.ok(error.startsWith(name), `an error names the file: ${JSON.stringify(error)}`);
    assert.ok(error.length > name.length + 2 && !error.includes("[object Object]") && !/\bundefined\b/.test(error), `an unclear error: ${JSON.stringify(error)}`);
    assert.not.match(error, /[\u0000-\u0008\u000b-\u001f\u007f]/, `an error with a control character a terminal would act on: ${JSON.stringify(error)}`);
  }
}

test("the shipped scenarios read as they are", () => {
  for (const text of shipped) {
    const result = readScenarioText("shipped.yaml", text, () => TRACE);
    assert.ok(result.ok, JSON.stringify(result));
  }
});

test("regression: a value that is not there is named as nothing, at its line", () => {
  const empty = readScenarioText(REGRESSIONS[0].name, REGRESSIONS[0].text);
  assert.equal(empty.ok ? [] : empty.errors, ["fuzz.yaml:1:1: (the file): must be a mapping of name, description, seed, time, ..., got nothing"]);
  const bare = readScenarioText(REGRESSIONS[1].name, REGRESSIONS[1].text);
  assert.ok(!bare.ok && bare.errors.some((e) => /^fuzz\.yaml:5:\d+: events\[0\]\.devices: .* got nothing$/.test(e)), JSON.stringify(bare));
});

test("any scenario file: a scenario, or errors that each name the file and say something; no throw, no hang", async () => {
  await fuzz("scenario file", input, readsOrRefuses, { budgetMs: 3000, minRuns: 20, runTimeoutMs: 1000, examples: REGRESSIONS });
  assert.ok(reached.ok > 0 && reached.refused > 0, `both outcomes reached: ${JSON.stringify(reached)}`);
});

test.after(() => {
  for (const line of summary()) console.log(`  ${line}`);
});

test.run();
