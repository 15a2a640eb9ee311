/*
 * How fast a rule handles observations, three ways, on the same rule and
 * the same observations:
 *  - through the gateway's rule engine: rows read from SQLite, delivered to
 *    the rule host on the XS engine (xsnap-worker), outputs and offset
 *    committed (what a gateway does);
 *  - the XS engine alone: the same deliveries straight to a worker (no
 *    SQLite, no commits), to tell the engine's share from the store's;
 *  - Node's `vm` (what Node-RED runs function nodes in): the same bundle
 *    in a vm context with a ctx that records outputs. The baseline for
 *    cost, though not for safety: vm is no isolation boundary, and its
 *    timeout cannot stop a synchronous `while (true) {}`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import vm from "node:vm";
import { ObservationStore } from "../../hosts/gateway/store/observation-store.js";
import { RuleEngine } from "../../hosts/gateway/rules/rule-engine.js";
import { buildRule } from "../../hosts/gateway/rules/rule-build.js";
import { RuleWorker } from "../../hosts/gateway/rules/rule-worker.js";
import { DEFAULT_LIMITS, DEFAULT_WORKER_MEMORY_BYTES, MAX_LIMITS } from "../../hosts/gateway/rules/rule-limits.js";
import { MAX_DELIVERY_EVENTS } from "../../hosts/gateway/rules/rule-runner.js";
import type { DeliverReply, LoadReply, WireObservation } from "../../hosts/gateway/rules/xs/protocol.js";
import { createLogger } from "../../hosts/log/logger.js";

export const THROUGHPUT_OBSERVATIONS = 20_000;
const SENSORS = 10;
const BASE_MS = 1_700_000_000_000;
const TIMEOUT_MS = 300_000;

export interface ThroughputFigure {
  rule: string;
  /** Observations per second through the engine (SQLite, XS, commits), XS alone, and Node's vm. */
  engine: number;
  xsOnly: number;
  vm: number;
  /** Computrons per event the engine reported. */
  computePerEvent: number;
}

function observations(): WireObservation[] {
  return Array.from({ length: THROUGHPUT_OBSERVATIONS }, (_, i) => {
    const at = BASE_MS + i * 100;
    return { id: i + 1, sensorId: `bench-${(i % SENSORS) + 1}`, seq: Math.floor(i / SENSORS) + 1, time: at, receivedAt: at, readings: [{ quantity: "temperature", value: 20 + (i % 50) / 10 }] };
  });
}

async function throughEngine(source: string, file: string, name: string, obs: WireObservation[]): Promise<{ perSecond: number; computePerEvent: number }> {
  const dir = mkdtempSync(join(tmpdir(), "xsedge-bench-rule-"));
  const store = ObservationStore.open(dir);
  const engine = new RuleEngine({ store, logger: createLogger({ component: "bench", level: "error" }) });
  try {
    store.transaction(() => {
      for (const o of obs) store.append({ sensorId: o.sensorId, seq: o.seq, boot: 1, uptimeMs: o.seq * 1000, readings: o.readings as never }, o.receivedAt);
    });
    engine.open();
    await engine.deploy(source, file);
    const started = performance.now();
    const deadline = Date.now() + TIMEOUT_MS;
    for (;;) {
      const stats = engine.show(name)!.rule;
      if (stats.lagObservations === 0 && !stats.uncommitted) {
        return { perSecond: obs.length / ((performance.now() - started) / 1000), computePerEvent: stats.computePerEvent };
      }
      if (Date.now() > deadline) throw new Error(`rule ${name} did not catch up: ${JSON.stringify(stats)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await engine.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function throughXs(bundle: string, obs: WireObservation[]): Promise<number> {
  const worker = new RuleWorker({ name: "bench-xs", memoryCapBytes: DEFAULT_WORKER_MEMORY_BYTES });
  try {
    await worker.ready(TIMEOUT_MS);
    const load = await worker.request<LoadReply>({ op: "load", slot: "bench", code: bundle, file: "bench.js", state: null, defaults: DEFAULT_LIMITS, maxima: MAX_LIMITS }, TIMEOUT_MS);
    if (!load.reply.ok) throw new Error(load.reply.error.message);
    const started = performance.now();
    for (let i = 0; i < obs.length; i += MAX_DELIVERY_EVENTS) {
      const events = obs.slice(i, i + MAX_DELIVERY_EVENTS).map((o) => ({ kind: "observation" as const, o }));
      const { reply } = await worker.request<DeliverReply>({ op: "deliver", slot: "bench", events }, TIMEOUT_MS);
      if (!reply.ok) throw new Error(reply.error.message);
    }
    return obs.length / ((performance.now() - started) / 1000);
  } finally {
    await worker.close();
  }
}

/** The bundle (an ES module) run as a script in a vm context; its definition handed out through a global. */
function throughVm(bundle: string, obs: WireObservation[]): number {
  const script = bundle.replace(/export\s*\{\s*(\w+)\s+as\s+default\s*\};?/, "globalThis.__rule = $1;");
  const context = vm.createContext({});
  vm.runInContext(script, context, { timeout: TIMEOUT_MS });
  const rule = context.__rule as { initialState(): unknown; onObservation(o: unknown, ctx: unknown): void };
  let state = rule.initialState();
  let now = 0;
  const outputs: unknown[] = [];
  const timers: Record<string, number> = {};
  const alerts: Record<string, boolean> = {};
  const ctx = {
    get state() { return state; },
    set state(value) { state = value; },
    get now() { return now; },
    derive: (d: unknown) => outputs.push(d),
    alert: (key: string, active: boolean) => { if (alerts[key] !== active) outputs.push((alerts[key] = active)); },
    isAlerting: (key: string) => alerts[key] === true,
    keepLocal: () => outputs.push("kept"),
    setTimer: (key: string, at: number) => (timers[key] = at),
    clearTimer: (key: string) => delete timers[key],
    trace: () => {},
  };
  const started = performance.now();
  for (const o of obs) {
    now = Math.max(now, o.receivedAt);
    rule.onObservation({ ...o, readings: o.readings.map((r) => ({ ...r })) }, ctx);
  }
  // The engine serialises the state after every delivery; so does this, as often.
  for (let i = 0; i < obs.length; i += MAX_DELIVERY_EVENTS) JSON.stringify(state);
  return obs.length / ((performance.now() - started) / 1000);
}

export async function throughputFigure(name: string, source: string): Promise<ThroughputFigure> {
  const file = `${name}.ts`;
  const built = await buildRule({ source, file });
  if (!built.ok) throw new Error(`${name} does not build: ${JSON.stringify(built.diagnostics[0])}`);
  const obs = observations();
  const engine = await throughEngine(source, file, name, obs);
  const xsOnly = await throughXs(built.bundle, obs);
  const inVm = throughVm(built.bundle, obs);
  return { rule: name, engine: engine.perSecond, xsOnly, vm: inVm, computePerEvent: engine.computePerEvent };
}
