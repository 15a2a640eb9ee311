/*
 * The gateway's configuration file (hosts/gateway/config/) fuzzed from
 * text to options: the example file mutated, documents of the schema's
 * keys with values of every kind, YAML's sharper features (aliases and
 * alias bombs, merge keys, tags, complex keys, several documents, deep
 * nesting), and JSON. On any text the configuration either resolves to
 * options the gateway can be started with, or is refused with errors that
 * each say something; nothing throws, nothing hangs.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { isScalar, parseDocument, stringify, visit } from "yaml";
import { TokenError } from "../../hosts/auth/bearer.js";
import { toGatewayOptions, toProcessSettings } from "../../hosts/gateway/config/gateway-options.js";
import { resolveConfig, type ConfigResult } from "../../hosts/gateway/config/resolve.js";
import { MAX_CONFIG_ALIASES } from "../../hosts/gateway/config/config-file.js";
import { CONFIG_SCHEMA, SECTIONS } from "../../hosts/gateway/config/schema.js";
import { fc, fuzz, mutatedText, summary } from "../support/fuzz.js";

const EXAMPLE = readFileSync(fileURLToPath(new URL("../../../hosts/gateway/gateway.example.yaml", import.meta.url)), "utf8");
const PATHS = [...CONFIG_SCHEMA.map((k) => k.path), ...SECTIONS];

const scalar = fc.oneof(
  fc.integer({ min: -2, max: 70_000 }),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom("512 MiB", "30s", "1m", "off", "127.0.0.1:8101", "http://127.0.0.1:9", "mqtts://x:1", "akka-grpc", "http", "mqtt", "info", "json", "/tmp/x", "", " "),
  fc.string({ maxLength: 20 }),
);
const value = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: "small" }, scalar, fc.array(tie("v"), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 6 }), tie("v"), { maxKeys: 3 })),
})).v;

/** A document setting some of the schema's keys (nested as sections) to values of any kind. */
const document = fc.array(fc.tuple(fc.constantFrom(...PATHS), value), { maxLength: 8 }).map((entries) => {
  const root: Record<string, unknown> = {};
  for (const [path, v] of entries) {
    const parts = path.split(".");
    let node = root;
    for (const part of parts.slice(0, -1)) {
      if (typeof node[part] !== "object" || node[part] === null || Array.isArray(node[part])) node[part] = {};
      node = node[part] as Record<string, unknown>;
    }
    node[parts[parts.length - 1]] = v;
  }
  return root;
});

const yamlFeatures = fc.constantFrom(
  // An alias bomb: each level refers to the one before ten times.
  Array.from({ length: 9 }, (_, i) => `l${i}: &l${i} [${i === 0 ? '"x"' : Array(10).fill(`*l${i - 1}`).join(", ")}]`).join("\n") + "\nmqtt: *l8\n",
  "base: &b {port: 1883}\nmqtt:\n  <<: *b\n  host: 0.0.0.0\n",
  "mqtt:\n  port: !!str 1883\n",
  "mqtt:\n  port: !custom 1883\n",
  "dataDir: !!binary aGVsbG8=\n",
  "? [a, b]\n: 1\n",
  "? {mqtt: 1}\n: 2\n",
  "mqtt: {port: 1}\n---\nmqtt: {port: 2}\n",
  "mqtt:\n  port: 1\nmqtt:\n  port: 2\n",
  "mqtt: " + "[".repeat(200) + "]".repeat(200) + "\n",
  "mqtt: " + "{a: ".repeat(100) + "1" + "}".repeat(100) + "\n",
  "\ufeffmqtt:\n\tport: 1883\n",
  "mqtt:\n  port: 1883 # trailing\n  host: *undefined_alias\n",
  "%YAML 1.1\n---\nmqtt:\n  port: 0x75B\n",
  "mqtt:\n  port: 1_883\n",
  "mqtt: &a\n  self: *a\n",
  "mqtt:\n  port: &p 1883\nhttp:\n  port: *p\n",
  "relay:\n  batchSize: &n 100\noutbox:\n  highWater: *n\n",
  "mqtt: &m\n  port: 1883\nhttp: *m\n",
  "dataDir: &d /tmp/x\nlog:\n  level: *d\n",
);

const yamlText = fc.oneof(
  { weight: 3, arbitrary: mutatedText(fc.constant(EXAMPLE), 6) },
  { weight: 3, arbitrary: document.map((d) => stringify(d)) },
  { weight: 2, arbitrary: mutatedText(document.map((d) => stringify(d))) },
  { weight: 2, arbitrary: yamlFeatures },
  { weight: 1, arbitrary: mutatedText(yamlFeatures) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
);
const jsonText = fc.oneof(document.map((d) => JSON.stringify(d)), mutatedText(document.map((d) => JSON.stringify(d, null, 2))), fc.string({ maxLength: 100 }));

const file = fc.oneof(
  { weight: 4, arbitrary: yamlText.map((text) => ({ name: "gateway.yaml", text })) },
  { weight: 2, arbitrary: jsonText.map((text) => ({ name: "gateway.json", text })) },
  { weight: 1, arbitrary: yamlText.map((text) => ({ name: "gateway.conf", text })) },
);

const reached = { ok: 0, refused: 0, aliases: 0, tokenFiles: 0 };

/**
 * What a result means, whatever line and column its errors give, at their
 * start or inside them: an empty value ("port:") is pointed at by its key,
 * the same value written out ("port: null") by itself.
 */
function meaning(result: ConfigResult): unknown {
  const unplaced = (e: string) => e.replace(/^[^:]*:\d+:\d+: /, "").replace(/\([^()]*:\d+:\d+\)/g, "(at)");
  return result.ok ? { ok: true, values: [...result.config.values] } : { ok: false, errors: result.errors.map(unplaced) };
}

/**
 * A YAML file means what it means with its aliases written out: the same
 * document, serialised again without anchors, resolves the same. (Merge
 * keys and keys that are not names are left out: the reader refuses them,
 * which writing the document out again would hide.)
 */
function sameWithAliasesExpanded(input: { name: string; text: string }, result: ConfigResult): void {
  if (!input.name.endsWith(".yaml") || !input.text.includes("*") || input.text.includes("<<")) return;
  const doc = parseDocument(input.text, { uniqueKeys: true });
  if (doc.errors.length > 0) return;
  let aliases = false;
  let plainKeys = true;
  visit(doc, {
    Alias: () => void (aliases = true),
    Pair: (_, pair) => void (plainKeys &&= isScalar(pair.key) && typeof pair.key.value === "string"),
  });
  if (!aliases || !plainKeys) return;
  let plain: unknown;
  try {
    plain = doc.toJS({ maxAliasCount: MAX_CONFIG_ALIASES });
  } catch {
    return;
  }
  reached.aliases++;
  const expanded = resolveConfig({ file: { name: input.name, text: stringify(plain) } });
  assert.equal(meaning(result), meaning(expanded), `the file means something else with its aliases written out:\n${input.text}`);
}

function resolvesOrRefuses(input: { name: string; text: string }): void {
  const result = resolveConfig({ file: input });
  sameWithAliasesExpanded(input, result);
  if (result.ok) {
    reached.ok++;
    // A configuration that resolves is one the gateway can be started with,
    // but for the token files it names: those are read at start, and a
    // missing or bad one is refused there in one line (the CLI's usage error).
    try {
      toGatewayOptions(result.config);
    } catch (error) {
      if (!(error instanceof TokenError)) throw error;
      assert.match(error.message, /^(cloud|registration|http)\.tokenFile |^the token in /, `a token error names its file: ${error.message}`);
      reached.tokenFiles++;
    }
    toProcessSettings(result.config);
    return;
  }
  reached.refused++;
  assert.ok(result.errors.length > 0, "a refusal has errors");
  for (const error of result.errors) {
    assert.type(error, "string");
    assert.ok(error.trim().length > 0 && !error.includes("[object Object]") && !error.includes("undefined:"), `an unclear error: ${JSON.stringify(error)}`);
    assert.not.match(error, /[\u0000-\u0008\u000b-\u001f\u007f]/, `an error with a control character a terminal would act on: ${JSON.stringify(error)}`);
  }
}

const BOMB = Array.from({ length: 9 }, (_, i) => `l${i}: &l${i} [${i === 0 ? '"x"' : Array(10).fill(`*l${i - 1}`).join(", ")}]`).join("\n");

/** Shrunk counterexamples of past failures (aliases were read as "a mapping"): each a test, and run first in the property. */
const REGRESSIONS = [
  { name: "gateway.yaml", text: "mqtt:\n  port: &p 1883\nhttp:\n  port: *p\n" },
  { name: "gateway.yaml", text: "mqtt: &m\n  port: 1883\nhttp: *m\n" },
  { name: "gateway.yaml", text: `${BOMB}\ndataDir: *l8\n` },
  { name: "gateway.json", text: '{"http":{"token":"512 MiB"}}' },
  { name: "gateway.yaml", text: "mqtt:\n  mqtt:\n  port:\n  \u0000ort: &p 1883\nhttp:\n  port: *p\n" },
];

test("regression: an alias stands for the value it names, a key's or a section's", () => {
  const port = resolveConfig({ file: REGRESSIONS[0] });
  assert.ok(port.ok, JSON.stringify(port));
  assert.is(port.ok && port.config.values.get("http.port"), 1883);
  const section = resolveConfig({ file: REGRESSIONS[1] });
  assert.ok(section.ok, JSON.stringify(section));
  assert.is(section.ok && section.config.values.get("http.port"), 1883);
});

test("regression: a value expanding to more aliases than the bound is refused as such, at the alias", () => {
  const result = resolveConfig({ file: REGRESSIONS[2] });
  assert.not.ok(result.ok);
  assert.ok(!result.ok && result.errors.includes(`gateway.yaml:10:10: dataDir expands to more than ${MAX_CONFIG_ALIASES} aliases`), JSON.stringify(result));
});

test("regression: a weak token given inline is a config error at its key, not a throw at start", () => {
  const result = resolveConfig({ file: REGRESSIONS[3] });
  assert.not.ok(result.ok);
  assert.ok(!result.ok && result.errors.some((e) => /http\.token \(gateway\.json.*\) is 7 characters, at least 16 are needed/.test(e)), JSON.stringify(result));
});

test("regression: an unknown key holding a control character is shown quoted, and an empty value is pointed at by its key", () => {
  const result = resolveConfig({ file: REGRESSIONS[4] });
  assert.not.ok(result.ok);
  const errors = result.ok ? [] : result.errors;
  assert.ok(errors.includes('gateway.yaml:4:3: unknown key "mqtt.\\u0000ort" (did you mean mqtt.port?)'), JSON.stringify(errors));
  assert.ok(errors.some((e) => e.startsWith("mqtt.port (gateway.yaml:3:3) is off")), JSON.stringify(errors));
});

test("any config file: options the gateway can start with, or errors that each say something; no throw, no hang", async () => {
  await fuzz("config file", file, resolvesOrRefuses, { budgetMs: 4000, minRuns: 20, runTimeoutMs: 1000, examples: REGRESSIONS });
  assert.ok(reached.ok > 0 && reached.refused > 0 && reached.aliases > 0, `every outcome reached: ${JSON.stringify(reached)}`);
});

test.after(() => {
  for (const line of summary()) console.log(`  ${line}`);
});

test.run();
