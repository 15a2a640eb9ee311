/*
 * Fuzzing rule deploys (issue 2.6: every decoder that takes outside
 * bytes), through the gateway's real local API as `xsedge rules deploy`
 * posts them: request bodies of any shape (no build starts), and the
 * shipped example rules mutated (each built, type-checked, loaded on XS
 * and self-tested, or refused). Every answer is JSON with a status the API
 * documents and, when refused, an error that says something; the gateway
 * keeps serving its devices, and a deploy that was refused leaves what runs
 * unchanged.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { exampleSource, startRulesGateway, type RulesGateway } from "../support/rules-gateway.js";
import { fc, fuzz, mutatedText, summary } from "../support/fuzz.js";

let t: RulesGateway;
const reached = { deployed: 0, refused: 0 };

test.before(async () => {
  t = await startRulesGateway(["fz-1"]);
});

test.after(async () => {
  await t.done();
  for (const line of summary()) console.log(`  ${line}`);
});

function assertAnswer(status: number, body: unknown, what: string): void {
  assert.ok([200, 201, 400, 409, 413, 415, 422, 429, 503].includes(status), `${what}: status ${status} ${JSON.stringify(body)}`);
  if (status >= 400) {
    reached.refused++;
    const error = (body as { error?: unknown } | null)?.error;
    assert.type(error, "string", `${what}: a refusal says why: ${JSON.stringify(body)}`);
    assert.ok((error as string).length > 5 && !(error as string).includes("[object Object]"), `${what}: an unclear error: ${JSON.stringify(body)}`);
  } else reached.deployed++;
}

test("request bodies of any shape: a clear 4xx before anything is built", async () => {
  const body = fc.oneof(
    fc.jsonValue(),
    fc.record({ source: fc.oneof(fc.jsonValue(), fc.constant("")), file: fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom("../x.ts", "a/b.ts", "rule.js", ".ts", "r.ts"), fc.jsonValue()) }, { requiredKeys: [] }),
  );
  await fuzz("rule deploy body", body, async (value) => {
    const res = await fetch(`${t.base}/api/v1/rules`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(value) });
    const text = await res.text();
    let parsed: unknown;
    assert.not.throws(() => (parsed = JSON.parse(text)), `JSON answer: ${text}`);
    assertAnswer(res.status, parsed, JSON.stringify(value).slice(0, 200));
  }, { budgetMs: 2000, minRuns: 10, runTimeoutMs: 5000 });
  // Not JSON at all.
  const raw = await fetch(`${t.base}/api/v1/rules`, { method: "POST", headers: { "content-type": "application/json" }, body: "{source:" });
  assertAnswer(raw.status, await raw.json(), "unparsable body");
});

test("mutated rule sources: deployed, or refused with the compiler's or the self-test's reason; the gateway keeps serving", async () => {
  const sources = ["dew-point", "five-minute-average", "freezer-alarm", "silence-alert"].map(exampleSource);
  const device = await t.device("fz-1");
  let seq = 0;
  await fuzz("rule deploy source", mutatedText(fc.constantFrom(...sources), 3), async (source) => {
    const answer = await t.deploy(source, "fuzzed.ts");
    assertAnswer(answer.status, answer.body, source.slice(0, 80));
    // Whatever the deploy did, a device is still acknowledged.
    await t.publish(device, ++seq, [{ quantity: "temperature", value: 20 }, { quantity: "humidity", value: 50 }]);
  }, { budgetMs: 12_000, minRuns: 3, maxRuns: 12, runTimeoutMs: 60_000 });
  assert.ok(reached.refused > 0, `refusals reached: ${JSON.stringify(reached)}`);
  console.log(`  rule deploys: ${JSON.stringify(reached)}`);
});

test.run();
