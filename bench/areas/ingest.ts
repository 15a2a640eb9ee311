/*
 * The gateway's ingest figures: durable ingest against bare aedes, what a
 * ratio of 0.8 asks of the gateway here, latency from device publish to
 * cloud acknowledgement, and resident memory with 1,000 devices. The
 * measuring is in gateway-figures.ts, ingest-budget.ts and bench/gateway/;
 * this file only runs it and writes it up (its prose moved here unchanged
 * from the single run.ts it had before the bench was split by area).
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { BenchArea } from "../bench-area.js";
import { figure } from "../bench-area.js";
import { DEVICE_COUNTS, ingestFigures, latencyFigure, LATENCY_RATE, type IngestFigure, type LatencyFigure } from "../gateway-figures.js";
import type { DurablePathFigure } from "../gateway/durable-path.js";
import { storeFloor, type StoreFloor } from "../gateway/store-floor.js";
import { ingestBudget, TARGET_RATIO, type IngestBudget } from "../ingest-budget.js";

const DURABLE_PATH = fileURLToPath(new URL("../gateway/durable-path.js", import.meta.url));
/** Observations per durable-path run: a few seconds of work, steady to a few percent. */
const DURABLE_PATH_OBSERVATIONS = 200_000;

/** The gateway's durable path alone, in a process of its own (it runs the store, outbox and relay). */
function durablePath(devices: number): DurablePathFigure {
  const out = execFileSync(process.execPath, [DURABLE_PATH, String(devices), String(DURABLE_PATH_OBSERVATIONS), "--json"], { encoding: "utf8" });
  return JSON.parse(out) as DurablePathFigure;
}

interface IngestMeasurement {
  cores: number;
  ingest: IngestFigure[];
  budgets: Array<{ budget: IngestBudget; durable: DurablePathFigure; floor: StoreFloor }>;
  latency: LatencyFigure;
}

const fixed = (n: number, digits = 1) => n.toFixed(digits);
const perSecond = (n: number) => `${Math.round(n).toLocaleString("en")}/s`;

const ingest: BenchArea<IngestMeasurement> = {
  id: "ingest",
  order: 30,
  title: "gateway ingest: durable ingest against bare aedes, its CPU budget, publish → cloud ack latency, memory",
  async measure(context) {
    context.log("durable ingest against bare aedes (1, 100, 1,000 devices)");
    const figures = await ingestFigures();
    context.log("durable path and store floor");
    const budgets = figures.map((f) => ({ budget: ingestBudget(f, context.cores), durable: durablePath(f.devices), floor: storeFloor(f.devices) }));
    context.log("latency to the cloud's ack");
    return { cores: context.cores, ingest: figures, budgets, latency: await latencyFigure() };
  },
  figures(m) {
    const devices = (n: number) => `${n.toLocaleString("en")} device${n === 1 ? "" : "s"}`;
    return [
      ...m.ingest.map((f) => figure(`durable ingest, ${devices(f.devices)}`, f.gateway.ackedPerSecond, "obs/s", { name: "bare aedes", value: f.aedes.ackedPerSecond }, { atLeast: TARGET_RATIO })),
      ...m.ingest.map((f) => figure(`server CPU per observation, ${devices(f.devices)}`, f.gatewayCpuPerObservation, "µs", { name: "bare aedes", value: f.aedesCpuPerObservation })),
      figure("publish → cloud ack p99", m.latency.cloudP99, "ms", { name: "publish → PUBACK p99, bare aedes", value: m.latency.aedesPubackP99 }),
    ];
  },
  report(m) {
    const lines: string[] = [];
    const say = (line = "") => lines.push(line);
    const { ingest: figures, budgets, latency, cores } = m;
    say("## Gateway: durable ingest against bare aedes");
    say();
    say("Devices publish observation records at QoS 1 as fast as the server acknowledges them, 1,000 publishes in flight in all (1,000 for one device, 10 each for 100, 1 each for 1,000), from a load generator in its own process; 2 s warm-up, 5 s measured. The gateway commits each observation to SQLite (WAL, synchronous=FULL, group commit) before its PUBACK and relays it to a connector that acknowledges at once. Baseline: bare aedes on TCP, QoS 1, in-memory persistence, no hooks, in the same run. The per-device rate limit is raised for these runs (the bench's devices are meant to flood). \"generator CPU\" near 1.0 means the load generator, not the server, set the pace. \"server CPU per observation\" is each server's CPU time (all its threads) while measuring, divided by the observations it acknowledged meanwhile: steadier than the rates when the machine is shared.");
    say();
    say("| devices | bare aedes | gateway | gateway / aedes | target | generator CPU (aedes, gateway) | server CPU per observation (aedes, gateway) |");
    say("|---|---|---|---|---|---|---|");
    for (const f of figures) {
      say(`| ${f.devices.toLocaleString("en")} | ${perSecond(f.aedes.ackedPerSecond)} | ${perSecond(f.gateway.ackedPerSecond)} | **${fixed(f.ratio, 2)}** | ≥ 0.8 ${f.ratio >= 0.8 ? "✓" : "✗"} | ${fixed(f.aedes.generatorCpu, 2)}, ${fixed(f.gateway.generatorCpu, 2)} | ${fixed(f.aedesCpuPerObservation)} µs, ${fixed(f.gatewayCpuPerObservation)} µs |`);
    }
    say();
    say("### What 0.8 asks of the gateway here");
    say();
    say(`The generator and the server share this machine's ${cores} cores, so the baseline's run says how much CPU the gateway may spend per observation to reach 0.8 of aedes's rate: ${cores} cores / (0.8 × aedes's rate), less what the generator spends per observation; less aedes's own work, the rest is what durability may cost. On the one thread that runs aedes only 1 / (0.8 × aedes's rate) fits, aedes included. Beside it, measured in this run: the gateway's durable path alone (bench/gateway/durable-path.ts: outbox, group commit, relay to a connector that acknowledges at once; no MQTT), and a floor no row-per-observation store can go below (bench/gateway/store-floor.ts): decoding and checking the record, plus insert and commit into a table with only the (sensor, seq) index that dedup needs, in transactions of 500 at synchronous=FULL — no other index, no relay bookkeeping, no JavaScript around it.`);
    say();
    say("| devices | gateway CPU per observation allowed (all threads) | left for durable work | of it on aedes's thread | gateway's durable path, measured | floor: decode + check | floor: insert + commit, dedup index only |");
    say("|---|---|---|---|---|---|---|");
    for (const { budget, durable, floor } of budgets) {
      say(`| ${budget.devices.toLocaleString("en")} | ${fixed(budget.gatewayUs)} µs | **${fixed(budget.durableUs)} µs** | ${fixed(budget.durableOnAedesThreadUs)} µs | ${fixed(durable.cpuUs)} µs | ${fixed(floor.classifyUs)} µs | ${fixed(floor.minimalStoreUs)} µs |`);
    }
    say();
    const floorShare = (b: (typeof budgets)[number]) => (b.floor.classifyUs + b.floor.minimalStoreUs) / b.budget.durableUs;
    const met = figures.every((f) => f.ratio >= TARGET_RATIO);
    say(`${met ? "0.8 is met in this run" : "Why 0.8 is not met"}: durability may cost ${budgets.map((b) => `${fixed(b.budget.durableUs)} µs`).join(" / ")} per observation (${DEVICE_COUNTS.join(" / ")} devices) on all threads together, and ${budgets.map((b) => `${fixed(b.budget.durableOnAedesThreadUs)} µs`).join(" / ")} of it on aedes's thread; the gateway's durable path costs ${budgets.map((b) => `${fixed(b.durable.cpuUs)} µs`).join(" / ")}, all on aedes's thread. The bare floor of a store that keeps one SQLite row per observation and dedups by (sensor, seq) already takes ${budgets.map((b) => `${fixed(100 * floorShare(b))}%`).join(" / ")} of the all-threads allowance, before the rest of what the issue asks: the clock anchors and their index, the relay's record of what the cloud has acknowledged, quarantine, the outbox's limits. Reaching 0.8 on this machine would need the store's work moved off aedes's thread (a worker thread) and a store that costs hardly more than that floor; on a Raspberry Pi, whose devices are other boards, the generator's share is not taken from the gateway.`);
    say();
    say("Where the gateway's time goes (CPU profiles of these runs, `node --cpu-prof`, when this text was written): with 100 devices, SQLite takes about 40% of the gateway's thread — the insert into the table and its three indexes (each device's rows dirty their own index pages in every group commit) 19%, the commit (WAL write and fsync) 15%, the relay's mark of acknowledged rows 3% — and aedes with its sockets and topic matching about 25%, decoding and checking records 5%, garbage collection 8%.");
    say();
    say("## Gateway: latency from device publish to cloud acknowledgement");
    say();
    say(`${latency.devices.toLocaleString("en")} devices publish ${LATENCY_RATE.toLocaleString("en")} observations a second in all (achieved ${perSecond(latency.achievedRate)}); the gateway relays them over HTTP to the reference cloud in its own process, which stores them in SQLite and acknowledges. Latency is from the device's publish to the moment the gateway holds the cloud's acknowledgement, for the ${Math.round(latency.measured).toLocaleString("en")} observations published in the 10 s measured (${Math.round(latency.missing).toLocaleString("en")} published then but not acknowledged by the end). Baseline: publish → PUBACK on bare aedes at the same rate.`);
    say();
    say("| path | p50 | p99 |");
    say("|---|---|---|");
    say(`| publish → cloud ack, through the gateway | **${fixed(latency.cloudP50)} ms** | **${fixed(latency.cloudP99)} ms** |`);
    say(`| publish → PUBACK, gateway (committed to SQLite) | ${fixed(latency.gatewayPubackP50, 2)} ms | ${fixed(latency.gatewayPubackP99, 2)} ms |`);
    say(`| publish → PUBACK, bare aedes (baseline) | ${fixed(latency.aedesPubackP50, 2)} ms | ${fixed(latency.aedesPubackP99, 2)} ms |`);
    say(`| cloud ack / aedes PUBACK | ${fixed(latency.cloudP50 / latency.aedesPubackP50)}× | ${fixed(latency.cloudP99 / latency.aedesPubackP99)}× |`);
    say();
    const thousand = figures.find((f) => f.devices === 1000);
    if (thousand) {
      const mib = (bytes: number) => `${fixed(bytes / 1024 / 1024)} MiB`;
      say("## Gateway: resident memory with 1,000 devices");
      say();
      say("Resident set size of each server's process halfway through its 1,000-device ingest run above, all devices connected and publishing. Baseline: bare aedes with the same devices.");
      say();
      say("| bare aedes | gateway | gateway / aedes |");
      say("|---|---|---|");
      say(`| ${mib(thousand.aedesRss)} | **${mib(thousand.gatewayRss)}** | ${fixed(thousand.gatewayRss / thousand.aedesRss, 2)} |`);
      say();
    }
    return lines;
  },
};

export default ingest;
