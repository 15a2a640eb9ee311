/*
 * What a rule can reach inside the real XS engine (xsnap-worker with the
 * rule host): frozen built-ins and nothing of the host. Rules are loaded
 * straight into a worker as modules (no gateway), so each check is the
 * engine's answer, not the build's.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RuleWorker } from "../../../hosts/gateway/rules/rule-worker.js";
import { DEFAULT_LIMITS, DEFAULT_WORKER_MEMORY_BYTES, MAX_LIMITS } from "../../../hosts/gateway/rules/rule-limits.js";
import type { DeliverReply, LoadReply, WireEvent } from "../../../hosts/gateway/rules/xs/protocol.js";

const TIMEOUT_MS = 20_000;

function module(name: string, onObservation: string, extra = ""): string {
  return `export default { name: ${JSON.stringify(name)}, select: { sensors: "*" }, initialState: () => ({}),${extra}
  onObservation(observation, ctx) {
${onObservation}
  } };`;
}

const observation = (id: number): WireEvent => ({
  kind: "observation",
  o: { id, sensorId: "s-1", seq: id, time: 1_700_000_000_000 + id, receivedAt: 1_700_000_000_000 + id, readings: [{ quantity: "temperature", value: 20 }] },
});

async function withWorker(run: (worker: RuleWorker, load: (name: string, code: string) => Promise<LoadReply>, deliver: (name: string, events: WireEvent[]) => Promise<DeliverReply>) => Promise<void>) {
  const worker = new RuleWorker({ name: "isolation-test", memoryCapBytes: DEFAULT_WORKER_MEMORY_BYTES });
  try {
    await worker.ready(TIMEOUT_MS);
    const load = async (name: string, code: string) =>
      (await worker.request<LoadReply>({ op: "load", slot: name, code, file: `${name}.js`, state: null, defaults: DEFAULT_LIMITS, maxima: MAX_LIMITS }, TIMEOUT_MS)).reply;
    const deliver = async (name: string, events: WireEvent[]) => (await worker.request<DeliverReply>({ op: "deliver", slot: name, events }, TIMEOUT_MS)).reply;
    await run(worker, load, deliver);
  } finally {
    await worker.close();
  }
}

/** The traces of a delivery's first event. */
function traces(reply: DeliverReply): string[] {
  assert.ok(reply.ok, JSON.stringify(reply));
  return reply.ok ? reply.results.flatMap((r) => r.traces) : [];
}

test("everything a rule can reach but its own objects is frozen: built-ins, their prototypes, methods and accessors, and what only syntax reaches", async () => {
  await withWorker(async (_worker, load, deliver) => {
    const walk = `
    const seen = new Set(), open = [];
    const visit = (value, path) => {
      if ((typeof value !== "object" && typeof value !== "function") || value === null || seen.has(value)) return;
      seen.add(value);
      if (!Object.isFrozen(value)) open.push(path);
      visit(Object.getPrototypeOf(value), path + ".__proto__");
      for (const key of Reflect.ownKeys(value)) {
        const d = Object.getOwnPropertyDescriptor(value, key);
        const name = path + "." + String(key);
        if ("value" in d) visit(d.value, name); else { visit(d.get, name + "<get>"); visit(d.set, name + "<set>"); }
      }
    };
    // The compartment's own: its global object (also "global"), Function, eval and Compartment.
    const own = new Set(["globalThis", "global", "Function", "eval", "Compartment"]);
    for (const key of Reflect.ownKeys(globalThis)) if (!own.has(key)) visit(globalThis[key], String(key));
    const proto = Object.getPrototypeOf;
    visit(proto(function* () {}), "%GeneratorFunction.prototype%"); visit(proto(async function () {}), "%AsyncFunction.prototype%");
    visit(proto(async function* () {}), "%AsyncGeneratorFunction.prototype%"); visit(proto(proto((function* () {})())), "%GeneratorPrototype%");
    visit(proto([].values()), "%ArrayIteratorPrototype%"); visit(proto(new Map().entries()), "%MapIteratorPrototype%");
    visit(proto(new Set().values()), "%SetIteratorPrototype%"); visit(proto(""[Symbol.iterator]()), "%StringIteratorPrototype%");
    visit(proto("".matchAll(/x/g)), "%RegExpStringIteratorPrototype%"); visit(proto(Uint8Array), "%TypedArray%");
    visit(Object.getPrototypeOf(ctx), "ctx.__proto__");
    ctx.trace(seen.size + " reached; not frozen: " + JSON.stringify(open.slice(0, 10)));`;
    assert.ok((await load("walker", module("walker", walk))).ok);
    const [line] = traces(await deliver("walker", [observation(1)]));
    const match = /^(\d+) reached; not frozen: (.*)$/.exec(line);
    assert.ok(match, line);
    assert.ok(Number(match![1]) > 500, `the walk reached ${match![1]} objects`);
    assert.is(match![2], "[]", line);
  });
});

test("no ambient authority: nothing of the host, no clock, no randomness, no evaluator that escapes to the host's global", async () => {
  await withWorker(async (_worker, load, deliver) => {
    const probes = `
    const lines = [];
    const attempt = (what, f) => { try { lines.push(what + " -> " + String(f())); } catch (e) { lines.push(what + " -> threw " + e.name); } };
    attempt("host globals", () => ["issueCommand", "print", "performance", "harden", "resetMeter", "currentMeterLimit", "gc", "setImmediate", "Compartment", "Atomics", "SharedArrayBuffer", "WeakRef", "FinalizationRegistry", "process", "require"].filter((n) => globalThis[n] !== undefined).join(",") || "none");
    attempt("Date.now()", () => Date.now());
    attempt("new Date()", () => new Date());
    attempt("Date()", () => Date());
    attempt("Math.random()", () => Math.random());
    attempt("new Date(0).constructor.now()", () => new Date(0).constructor.now());
    attempt("generator constructor", () => (function* () {}).constructor("return globalThis")().next().value.issueCommand);
    attempt("async constructor", () => (async function () {}).constructor("return 1"));
    attempt("method constructor", () => ctx.derive.constructor("return globalThis")().print);
    attempt("Function", () => typeof Function("return globalThis")().issueCommand);
    attempt("eval", () => typeof (0, eval)("globalThis").print);
    attempt("pollute Object.prototype", () => { Object.prototype.polluted = 1; return ({}).polluted; });
    attempt("replace Array.prototype.map", () => { Array.prototype.map = () => 42; return [1].map((x) => x); });
    attempt("replace ctx's shared method", () => { Object.getPrototypeOf(ctx).derive = () => 0; return "replaced"; });
    attempt("Error subclass with this.name", () => { class E extends Error { constructor() { super("m"); this.name = "E"; } } return new E().name; });
    attempt("new Date(ctx.now)", () => new Date(ctx.now).toISOString());
    ctx.state = lines;`;
    assert.ok((await load("prober", module("prober", probes))).ok);
    const reply = await deliver("prober", [observation(1)]);
    assert.ok(reply.ok, JSON.stringify(reply));
    assert.equal(reply.ok && JSON.parse(reply.state).s, [
      "host globals -> none",
      "Date.now() -> threw TypeError",
      "new Date() -> threw TypeError",
      "Date() -> threw TypeError",
      "Math.random() -> threw TypeError",
      "new Date(0).constructor.now() -> threw TypeError",
      "generator constructor -> threw TypeError",
      "async constructor -> threw TypeError",
      "method constructor -> threw TypeError",
      "Function -> undefined",
      "eval -> undefined",
      "pollute Object.prototype -> threw TypeError",
      "replace Array.prototype.map -> threw TypeError",
      "replace ctx's shared method -> threw TypeError",
      "Error subclass with this.name -> E",
      "new Date(ctx.now) -> 2023-11-14T22:13:20.001Z",
    ]);
  });
});

test("a rule cannot touch another's: separate globals and module state in one worker", async () => {
  await withWorker(async (_worker, load, deliver) => {
    assert.ok((await load("a", module("a", `globalThis.shared = "a was here"; ctx.trace(String(globalThis.shared));`))).ok);
    assert.ok((await load("b", module("b", `ctx.trace(String(globalThis.shared));`))).ok);
    assert.equal(traces(await deliver("a", [observation(1)])), ["a was here"]);
    assert.equal(traces(await deliver("b", [observation(1)])), ["undefined"]);
  });
});

test("ctx works only while its event runs: a promise job left behind is refused", async () => {
  await withWorker(async (_worker, load, deliver) => {
    const code = `
    if (observation.seq === 1) {
      Promise.resolve().then(() => { try { ctx.derive({ sensorId: "x", readings: [{ quantity: "temperature", value: 1 }] }); globalThis.late = "derived"; } catch (e) { globalThis.late = e.name + ": " + e.message; } });
      return;
    }
    ctx.trace(String(globalThis.late));`;
    assert.ok((await load("async", module("async", code))).ok);
    const first = await deliver("async", [observation(1)]);
    assert.ok(first.ok && first.results.length === 0, JSON.stringify(first));
    const lines = traces(await deliver("async", [observation(2)]));
    assert.equal(lines, ["OutputError: this context's event is over: ctx may be used only while its handler runs"]);
  });
});

test("what ctx refuses is an output fault naming the handler: keepLocal without relay \"decide\", a timer in the past, a bad derived quantity", async () => {
  await withWorker(async (_worker, load, deliver) => {
    const cases: Array<[string, RegExp]> = [
      ["ctx.keepLocal();", /keepLocal\(\) needs relay: "decide"/],
      ["ctx.setTimer(\"k\", ctx.now);", /a timer must be due after ctx\.now/],
      ["ctx.derive({ sensorId: \"v\", readings: [{ quantity: \"mood\", value: 1 }] });", /derived readings\[0\]\.quantity must be one of temperature, humidity, pressure/],
      ["ctx.derive({ sensorId: \"has space\", readings: [{ quantity: \"temperature\", value: 1 }] });", /derived sensorId must be/],
      ["ctx.alert(\"\", true);", /alert key must be a string of 1 to 128/],
    ];
    for (const [i, [body, message]] of cases.entries()) {
      const name = `refused-${i}`;
      assert.ok((await load(name, module(name, body))).ok);
      const reply = await deliver(name, [observation(1)]);
      assert.ok(!reply.ok, body);
      if (!reply.ok) {
        assert.is(reply.error.kind, "output", body);
        assert.is(reply.error.handler, "onObservation");
        assert.match(reply.error.message, message);
        assert.is(reply.observationId, 1);
      }
    }
  });
});

test("a definition that is not one is refused at load, naming what is wrong", async () => {
  await withWorker(async (_worker, load) => {
    const refused = async (code: string) => {
      const reply = await load("bad", code);
      assert.ok(!reply.ok, code);
      return reply.ok ? "" : reply.error.message;
    };
    assert.match(await refused("export default 42;"), /default export must be defineRule/);
    assert.match(await refused(`export default { name: "Bad Name", select: { sensors: "*" }, initialState: () => ({}), onObservation() {} };`), /name must be 1 to 63/);
    assert.match(await refused(`export default { name: "x", select: { sensors: "a b" }, initialState: () => ({}), onObservation() {} };`), /select\.sensors must be/);
    assert.match(await refused(`export default { name: "x", select: { sensors: "*" }, initialState: () => ({}) };`), /needs onObservation, onTimer or both/);
    assert.match(await refused(`export default { name: "x", select: { sensors: "*" }, limits: { computePerEvent: 1e12 }, initialState: () => ({}), onObservation() {} };`), /limits\.computePerEvent must be an integer from 1 to 100000000/);
    assert.match(await refused(`export default { name: "x", select: { sensors: "*" }, initialState: () => { const a = {}; a.a = a; return a; }, onObservation() {} };`), /cyclic|circular/i);
    assert.match(await refused("export default {"), /SyntaxError/);
  });
});

test.run();
