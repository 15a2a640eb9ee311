/*
 * The gateway rules' figures for `npm run bench`, each against a baseline
 * measured in the same run:
 *  - observations per second through a trivial and a windowed rule, on the
 *    XS engine through the gateway's engine and alone, against the same
 *    rule in Node's `vm`;
 *  - the p99 of device PUBACK latency with ten rules active, against the
 *    same gateway with none;
 *  - time from `deploy` to the new version live while devices publish
 *    (and the outputs lost or repeated across the hand-overs);
 *  - the resident memory of the gateway (and its rules workers) with 0, 1
 *    and 10 rules, against 0.
 * The gateway and the load generator run in processes of their own.
 * bench/areas/rules.ts writes it up (`npm run bench -- --only rules`).
 */
import { fork, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import type { LoadPlan, LoadResult } from "./gateway/load-generator.js";
import type { RulesServerPlan, TwinCheck } from "./rules/gateway-process.js";
import { throughputFigure, type ThroughputFigure } from "./rules/throughput.js";
import { nextReply } from "./child-reply.js";

const SERVER = fileURLToPath(new URL("./rules/gateway-process.js", import.meta.url));
const LOAD = fileURLToPath(new URL("./gateway/load-generator.js", import.meta.url));
const EXAMPLES = fileURLToPath(new URL("../../examples/rules/", import.meta.url));
const SECRET = "bench-secret-0123456789";
const PREFIX = "bench";
const CHILD_TIMEOUT_MS = 300_000;
/** The PUBACK runs: 100 devices, 1,000 observations a second in all, 10 s measured. */
export const PUBACK_DEVICES = 100;
export const PUBACK_RATE = 1000;
export const PUBACK_MEASURE_MS = 10_000;
/** Deploys of a new version while the devices publish. */
export const HOT_DEPLOYS = 3;
/**
 * Pairs of PUBACK runs, ten rules then none, after the run with deploys (whose type-checks take the CPU, so it is
 * not one of them): the figure is the median of each side, so one run caught by a neighbour's burst on a shared
 * machine does not make it.
 */
export const PUBACK_PAIRS = Number(process.env.XSEDGE_BENCH_RULES_PAIRS ?? 5);
const CAUGHT_UP_POLL_MS = 500;

const example = (name: string) => readFileSync(`${EXAMPLES}${name}.ts`, "utf8");

const trivial = `import { defineRule } from "xsedge/rules";
export default defineRule({
  name: "count",
  select: { sensors: "bench-*" },
  start: "stored",
  initialState: () => ({ n: 0 }),
  onObservation(_o, ctx) {
    ctx.state.n++;
  },
});
`;

/** Version `v` derives "<sensor>.twin" = seq + v / 10 for every observation: a deploy that lost or repeated one would show. */
const twin = (v: number) => `import { defineRule } from "xsedge/rules";
export default defineRule({
  name: "twin",
  select: { sensors: "bench-*" },
  start: "stored",
  initialState: () => ({}),
  onObservation(observation, ctx) {
    ctx.derive({ sensorId: observation.sensorId + ".twin", readings: [{ quantity: "temperature", value: observation.seq + ${v} / 10 }] });
  },
});
`;

/** A rolling mean of each sensor's last 60 readings, derived every 60th. */
const rolling = (n: number) => `import { defineRule, readingOf } from "xsedge/rules";
export default defineRule<{ windows: Record<string, number[]> }>({
  name: "rolling-${n}",
  select: { sensors: "bench-*" },
  initialState: () => ({ windows: {} }),
  onObservation(observation, ctx) {
    const value = readingOf(observation, "temperature");
    if (value === undefined) return;
    const window = (ctx.state.windows[observation.sensorId] ??= []);
    window.push(value);
    if (window.length > 60) window.shift();
    if (observation.seq % 60 === 0) ctx.derive({ sensorId: observation.sensorId + ".mean${n}", readings: [{ quantity: "temperature", value: window.reduce((a, b) => a + b, 0) / window.length }] });
  },
});
`;

/** Ten rules on the bench devices: the four examples, the twin, three rolling means, two counters. */
function tenRules(): Array<{ file: string; source: string }> {
  const bench = (source: string) => source.replace(/sensors: "[^"]*"/, 'sensors: "bench-*"');
  return [
    { file: "dew-point.ts", source: bench(example("dew-point")) },
    { file: "five-minute-average.ts", source: bench(example("five-minute-average")) },
    { file: "silence-alert.ts", source: bench(example("silence-alert")) },
    { file: "freezer-alarm.ts", source: bench(example("freezer-alarm")) },
    { file: "twin.ts", source: twin(1) },
    { file: "rolling-1.ts", source: rolling(1) },
    { file: "rolling-2.ts", source: rolling(2) },
    { file: "rolling-3.ts", source: rolling(3) },
    { file: "count.ts", source: trivial.replace('start: "stored",\n', "") },
    { file: "count-2.ts", source: trivial.replace('start: "stored",\n', "").replace('name: "count"', 'name: "count-2"') },
  ];
}

function next<T>(child: ChildProcess, what: string, accept: (message: any) => T | undefined): Promise<T> {
  return nextReply(child, what, accept, CHILD_TIMEOUT_MS);
}

interface RulesServer {
  mqtt: number;
  http: string;
  memory(): Promise<{ rss: number; heapUsed: number; workersRss: number; workers: number }>;
  twins(): Promise<TwinCheck>;
  cpu(): Promise<{ gatewayUs: number; workersUs: number; stored: number; writtenBytes: number; loopDelayP99Ms: number; loopDelayMaxMs: number }>;
  deploy(file: string, source: string): Promise<{ tookMs: number; handOverMs: number }>;
  /** Disables or enables every rule. */
  switchAll(enabled: boolean): Promise<void>;
  caughtUp(): Promise<void>;
  stop(): Promise<void>;
}

async function startServer(): Promise<RulesServer> {
  // --expose-gc: memory is sampled after a full collection, so it is what the gateway keeps, not garbage not yet collected.
  // XSEDGE_BENCH_CPU_PROF=<dir>: the gateway's CPU profile of the whole run, for finding where its event loop goes.
  const profile = process.env.XSEDGE_BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.XSEDGE_BENCH_CPU_PROF}`] : [];
  const child = fork(SERVER, [], { stdio: ["ignore", "inherit", "inherit", "ipc"], execArgv: ["--expose-gc", ...profile] });
  const ready = next(child, "rules gateway start", (m) => m?.ready as { mqtt: number; http: number } | undefined);
  child.send({ prefix: PREFIX, devices: PUBACK_DEVICES, secret: SECRET } satisfies RulesServerPlan);
  const { mqtt, http } = await ready;
  const base = `http://127.0.0.1:${http}`;
  return {
    mqtt,
    http: base,
    async memory() {
      const reply = next(child, "memory", (m) => (typeof m?.rss === "number" ? (m as { rss: number; heapUsed: number; workersRss: number; workers: number }) : undefined));
      child.send({ type: "memory" });
      return reply;
    },
    async cpu() {
      const reply = next(child, "cpu", (m) => m?.cpu as Awaited<ReturnType<RulesServer["cpu"]>> | undefined);
      child.send({ type: "cpu" });
      return reply;
    },
    async twins() {
      const reply = next(child, "twins", (m) => (typeof m?.observations === "number" ? (m as TwinCheck) : undefined));
      child.send({ type: "twins" });
      return reply;
    },
    async deploy(file, source) {
      const res = await fetch(`${base}/api/v1/rules`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source, file }) });
      const body = (await res.json()) as { tookMs: number; handOverMs: number; error?: string };
      if (res.status >= 300) throw new Error(`deploy ${file}: ${res.status} ${body.error}`);
      // Only the numbers: a run's figures are combined leaf by leaf with the other runs'.
      return { tookMs: body.tookMs, handOverMs: body.handOverMs };
    },
    async switchAll(enabled) {
      const { rules } = (await (await fetch(`${base}/api/v1/rules`)).json()) as { rules: { name: string }[] };
      for (const { name } of rules) {
        const res = await fetch(`${base}/api/v1/rules/${enabled ? "enable" : "disable"}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name }) });
        if (res.status !== 200) throw new Error(`${enabled ? "enable" : "disable"} ${name}: ${res.status}`);
      }
    },
    async caughtUp() {
      const deadline = Date.now() + CHILD_TIMEOUT_MS;
      for (;;) {
        const { rules } = (await (await fetch(`${base}/api/v1/rules`)).json()) as { rules: { lagObservations: number; uncommitted: boolean; status: string }[] };
        // A disabled rule only lags, by design.
        if (rules.every((r) => r.status === "disabled" || (r.lagObservations === 0 && !r.uncommitted))) return;
        if (Date.now() > deadline) throw new Error("the rules did not catch up");
        // Not often: each look counts every rule's lag on the gateway's event loop, inside the CPU measured per run.
        await new Promise((resolve) => setTimeout(resolve, CAUGHT_UP_POLL_MS));
      }
    },
    async stop() {
      const stopped = next(child, "stop", (m) => (m?.stopped ? true : undefined)).catch(() => child.kill("SIGKILL"));
      child.send({ type: "stop" });
      await stopped;
    },
  };
}

async function load(plan: LoadPlan, halfway?: () => Promise<void>): Promise<LoadResult> {
  const child = fork(LOAD, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const measuring = next(child, "load start", (m) => (m?.measuring ? true : undefined));
  const result = next(child, "load result", (m) => m?.result as LoadResult | undefined);
  child.send(plan);
  await measuring;
  if (halfway) await halfway();
  return result;
}

let firstSeq = 1;
const pubackPlan = (port: number, measureMs = PUBACK_MEASURE_MS): LoadPlan => {
  const plan: LoadPlan = { port, devices: PUBACK_DEVICES, mode: "rate", rate: PUBACK_RATE, window: 50, warmupMs: 2000, measureMs, prefix: PREFIX, secret: SECRET, firstSeq };
  firstSeq += 1_000_000;
  return plan;
};

export interface RulesFigures {
  throughput: ThroughputFigure[];
  /** The runs in the order run: the one with deploys, then alternating, ten rules active and none (all disabled); with the load average at each start. */
  puback: { rules: number; deploys: boolean; p50: number; p99: number; acked: number; gatewayCpuUs: number; workersCpuUs: number; writtenBytes: number; loopDelayP99Ms: number; loopDelayMaxMs: number; loadAverage: number }[];
  deploys: { tookMs: number; handOverMs: number }[];
  /** The baseline for deploys: the ten rules' first deploys, with no device publishing. */
  idleDeploys: { tookMs: number; handOverMs: number }[];
  twins: TwinCheck;
  memory: { rules: number; gatewayRss: number; heapUsed: number; workersRss: number; workers: number }[];
}

export async function measureRulesFigures(): Promise<RulesFigures> {
  const throughput = [await throughputFigure("count", trivial), await throughputFigure("five-minute-average", example("five-minute-average").replace('relay: "decide",', 'relay: "decide",\n  start: "stored",').replace(/sensors: "[^"]*"/, 'sensors: "bench-*"'))];
  const server = await startServer();
  try {
    const memory: RulesFigures["memory"] = [];
    const sample = async (rules: number) => {
      const m = await server.memory();
      memory.push({ rules, gatewayRss: m.rss, heapUsed: m.heapUsed, workersRss: m.workersRss, workers: m.workers });
    };
    await load(pubackPlan(server.mqtt, 3000));
    await sample(0);
    const rules = tenRules();
    const idleDeploys: RulesFigures["deploys"] = [await server.deploy(rules[4].file, rules[4].source)];
    await load(pubackPlan(server.mqtt, 3000));
    await server.caughtUp();
    await sample(1);
    for (const rule of rules.filter((_, i) => i !== 4)) idleDeploys.push(await server.deploy(rule.file, rule.source));
    const deploys: RulesFigures["deploys"] = [];
    const puback: RulesFigures["puback"] = [];
    const run = async (active: boolean, during?: () => Promise<void>) => {
      const loadAverage = loadavg()[0];
      const before = await server.cpu();
      const result = await load(pubackPlan(server.mqtt), during);
      // Up to the rules having caught up: their work on these observations, however late they did it.
      await server.caughtUp();
      const after = await server.cpu();
      const stored = Math.max(1, after.stored - before.stored);
      puback.push({
        rules: active ? 10 : 0, deploys: during !== undefined, loadAverage, p50: result.pubackP50, p99: result.pubackP99, acked: result.acked,
        gatewayCpuUs: (after.gatewayUs - before.gatewayUs) / stored, workersCpuUs: (after.workersUs - before.workersUs) / stored,
        writtenBytes: (after.writtenBytes - before.writtenBytes) / stored,
        loopDelayP99Ms: after.loopDelayP99Ms, loopDelayMaxMs: after.loopDelayMaxMs,
      });
    };
    // The deploys under load first (their figure; not a PUBACK run of the median: tsc takes the CPU meanwhile).
    await run(true, async () => {
      for (let v = 2; v < 2 + HOT_DEPLOYS; v++) deploys.push(await server.deploy("twin.ts", twin(v)));
    });
    await sample(10);
    // Ten rules and none, alternating, so a machine whose load drifts (a shared one) weighs on both alike.
    for (let pair = 0; pair < PUBACK_PAIRS; pair++) {
      if (pair > 0) {
        await server.switchAll(true);
        await server.caughtUp();
      }
      await run(true);
      await server.switchAll(false);
      await run(false);
    }
    // Enabled again, every rule catches up on what it missed: then every device observation has its twin.
    await server.switchAll(true);
    await server.caughtUp();
    const twins = await server.twins();
    return { throughput, puback, deploys, idleDeploys, twins, memory };
  } finally {
    await server.stop();
  }
}
