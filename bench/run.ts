/*
 * `npm run bench`: measures xsedge's figures, each as a ratio to a baseline
 * measured in the same run (these machines are too noisy for absolute
 * thresholds), and writes them to bench/RESULTS.md, which the README shows.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { arch, availableParallelism, cpus, platform } from "node:os";
import { execFileSync } from "node:child_process";
import { DEVICE_COUNTS, ingestFigures, latencyFigure, LATENCY_RATE } from "./gateway-figures.js";
import type { DurablePathFigure } from "./gateway/durable-path.js";
import { storeFloor, type StoreFloor } from "./gateway/store-floor.js";
import { ingestBudget, TARGET_RATIO, type IngestBudget } from "./ingest-budget.js";
import { LARGE_ROWS, measureApiFigures, SENSORS, SMALL_ROWS } from "./api-figures.js";
import { BOARD_SLOT_BYTES, HOST_SLOT_BYTES, flashBytesFigures, flashLifeFigures, heapFigure } from "./device-figures.js";
import { rulesSection } from "./rules-figures.js";

const RESULTS = fileURLToPath(new URL("../../bench/RESULTS.md", import.meta.url));
const DURABLE_PATH = fileURLToPath(new URL("./gateway/durable-path.js", import.meta.url));
/** Observations per durable-path run: a few seconds of work, steady to a few percent. */
const DURABLE_PATH_OBSERVATIONS = 200_000;
const cores = availableParallelism();

/** The gateway's durable path alone, in a process of its own (it runs the store, outbox and relay). */
function durablePath(devices: number): DurablePathFigure {
  const out = execFileSync(process.execPath, [DURABLE_PATH, String(devices), String(DURABLE_PATH_OBSERVATIONS), "--json"], { encoding: "utf8" });
  return JSON.parse(out) as DurablePathFigure;
}
const fixed = (n: number, digits = 1) => n.toFixed(digits);
const kib = (slots: number, bytes: number) => `${fixed((slots * bytes) / 1024)} KiB`;

const started = Date.now();
const lines: string[] = [];
const say = (line = "") => {
  lines.push(line);
  process.stdout.write(line + "\n");
};

say("# xsedge benchmark results");
say();
say(`Measured ${new Date(started).toISOString()} on ${platform()}/${arch()}, ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}. Written by \`npm run bench\`; every figure is a ratio to a baseline measured in the same run.`);
say();

say("## Device: bytes per observation in flash");
say();
say("Samples one second apart, batches closed after 10 samples (the default `batchMaxAgeMs` of 10 s), written to the FlashLog on the NOR model: space used per sample, framing and block headers included. Baseline: the same observation as JSON (with units named).");
say();
say("| part | flash, batched | flash, one record per sample | JSON | batched / JSON | target |");
say("|---|---|---|---|---|---|");
for (const f of flashBytesFigures()) {
  say(`| ${f.part} | ${fixed(f.flashBytes)} B | ${fixed(f.singleRecordBytes)} B | ${fixed(f.jsonBytes)} B | **${fixed(f.ratio, 3)}** | ≤ 0.25 ${f.ratio <= 0.25 ? "✓" : "✗"} |`);
}
say();

say("## Device: projected flash life");
say();
say(`TMP117 samples at one a second into a 64 KB log (${16} blocks of 4 KB), each record released as the gateway acknowledges it; the most-erased block's erase rate, against ${(100_000).toLocaleString("en")} cycles. Baseline: one record per sample.`);
say();
say("| records | erases per block per year | projected life | vs. one record per sample | target |");
say("|---|---|---|---|---|");
const [batched, single] = flashLifeFigures();
for (const f of [batched, single]) {
  say(`| ${f.perBatch === 1 ? "one per sample" : `batches of ${f.perBatch}`} | ${Math.round(f.erasesPerBlockPerYear).toLocaleString("en")} | **${fixed(f.years)} years** | ${fixed(f.years / single.years, 2)}× | ≥ 15 years ${f.years >= 15 ? "✓" : "✗"} |`);
}
say();

say("## Device: XS heap does not grow with samples");
say();
const heap = await heapFigure();
say(`The device bundle on XS (xsnap-worker) with a BME280 model, sampling once a virtual second and publishing to a real gateway on 127.0.0.1; the live heap after a full garbage collection (xsnap's \`currentHeapCount\`, in slots of ${HOST_SLOT_BYTES} bytes here, ${BOARD_SLOT_BYTES} on a 32-bit board). ${heap.stored.toLocaleString("en")} observations reached the gateway.`);
say();
say("| after boot (10 samples) | after 10,000 samples | ratio | target |");
say("|---|---|---|---|");
say(`| ${heap.afterBootSlots.toLocaleString("en")} slots (${kib(heap.afterBootSlots, BOARD_SLOT_BYTES)} at 16 B) | ${heap.afterSamplesSlots.toLocaleString("en")} slots (${kib(heap.afterSamplesSlots, BOARD_SLOT_BYTES)}) | **${fixed(heap.ratio, 3)}** | ≤ 1.0 (no growth) ${heap.ratio <= 1.01 ? "✓" : "✗"} |`);
say();
say("xsnap evaluates the whole bundle into its heap, code and module objects included; on a board mcconfig preloads those into flash, so a board's heap holds less (mcsim measured about 3,800 slots for an earlier build of the app, hosts/esp32/manifest.json).");
say();
say("## Gateway: durable ingest against bare aedes");
say();
say("Devices publish observation records at QoS 1 as fast as the server acknowledges them, 1,000 publishes in flight in all (1,000 for one device, 10 each for 100, 1 each for 1,000), from a load generator in its own process; 2 s warm-up, 5 s measured. The gateway commits each observation to SQLite (WAL, synchronous=FULL, group commit) before its PUBACK and relays it to a connector that acknowledges at once. Baseline: bare aedes on TCP, QoS 1, in-memory persistence, no hooks, in the same run. The per-device rate limit is raised for these runs (the bench's devices are meant to flood). \"generator CPU\" near 1.0 means the load generator, not the server, set the pace. \"server CPU per observation\" is each server's CPU time (all its threads) while measuring, divided by the observations it acknowledged meanwhile: steadier than the rates when the machine is shared.");
say();
say("| devices | bare aedes | gateway | gateway / aedes | target | generator CPU (aedes, gateway) | server CPU per observation (aedes, gateway) |");
say("|---|---|---|---|---|---|---|");
const ingest = await ingestFigures();
const perSecond = (n: number) => `${Math.round(n).toLocaleString("en")}/s`;
for (const f of ingest) {
  say(`| ${f.devices.toLocaleString("en")} | ${perSecond(f.aedes.ackedPerSecond)} | ${perSecond(f.gateway.ackedPerSecond)} | **${fixed(f.ratio, 2)}** | ≥ 0.8 ${f.ratio >= 0.8 ? "✓" : "✗"} | ${fixed(f.aedes.generatorCpu, 2)}, ${fixed(f.gateway.generatorCpu, 2)} | ${fixed(f.aedesCpuPerObservation)} µs, ${fixed(f.gatewayCpuPerObservation)} µs |`);
}
say();
say();
say("### What 0.8 asks of the gateway here");
say();
say(`The generator and the server share this machine's ${cores} cores, so the baseline's run says how much CPU the gateway may spend per observation to reach 0.8 of aedes's rate: ${cores} cores / (0.8 × aedes's rate), less what the generator spends per observation; less aedes's own work, the rest is what durability may cost. On the one thread that runs aedes only 1 / (0.8 × aedes's rate) fits, aedes included. Beside it, measured in this run: the gateway's durable path alone (bench/gateway/durable-path.ts: outbox, group commit, relay to a connector that acknowledges at once; no MQTT), and a floor no row-per-observation store can go below (bench/gateway/store-floor.ts): decoding and checking the record, plus insert and commit into a table with only the (sensor, seq) index that dedup needs, in transactions of 500 at synchronous=FULL — no other index, no relay bookkeeping, no JavaScript around it.`);
say();
say("| devices | gateway CPU per observation allowed (all threads) | left for durable work | of it on aedes's thread | gateway's durable path, measured | floor: decode + check | floor: insert + commit, dedup index only |");
say("|---|---|---|---|---|---|---|");
const budgets: Array<{ budget: IngestBudget; durable: DurablePathFigure; floor: StoreFloor }> = [];
for (const f of ingest) {
  const budget = ingestBudget(f, cores);
  const durable = durablePath(f.devices);
  const floor = storeFloor(f.devices);
  budgets.push({ budget, durable, floor });
  say(`| ${f.devices.toLocaleString("en")} | ${fixed(budget.gatewayUs)} µs | **${fixed(budget.durableUs)} µs** | ${fixed(budget.durableOnAedesThreadUs)} µs | ${fixed(durable.cpuUs)} µs | ${fixed(floor.classifyUs)} µs | ${fixed(floor.minimalStoreUs)} µs |`);
}
say();
const floorShare = (b: (typeof budgets)[number]) => (b.floor.classifyUs + b.floor.minimalStoreUs) / b.budget.durableUs;
const met = ingest.every((f) => f.ratio >= TARGET_RATIO);
say(`${met ? "0.8 is met in this run" : "Why 0.8 is not met"}: durability may cost ${budgets.map((b) => `${fixed(b.budget.durableUs)} µs`).join(" / ")} per observation (${DEVICE_COUNTS.join(" / ")} devices) on all threads together, and ${budgets.map((b) => `${fixed(b.budget.durableOnAedesThreadUs)} µs`).join(" / ")} of it on aedes's thread; the gateway's durable path costs ${budgets.map((b) => `${fixed(b.durable.cpuUs)} µs`).join(" / ")}, all on aedes's thread. The bare floor of a store that keeps one SQLite row per observation and dedups by (sensor, seq) already takes ${budgets.map((b) => `${fixed(100 * floorShare(b))}%`).join(" / ")} of the all-threads allowance, before the rest of what the issue asks: the clock anchors and their index, the relay's record of what the cloud has acknowledged, quarantine, the outbox's limits. Reaching 0.8 on this machine would need the store's work moved off aedes's thread (a worker thread) and a store that costs hardly more than that floor; on a Raspberry Pi, whose devices are other boards, the generator's share is not taken from the gateway.`);
say();
say("Where the gateway's time goes (CPU profiles of these runs, `node --cpu-prof`, when this text was written): with 100 devices, SQLite takes about 40% of the gateway's thread — the insert into the table and its three indexes (each device's rows dirty their own index pages in every group commit) 19%, the commit (WAL write and fsync) 15%, the relay's mark of acknowledged rows 3% — and aedes with its sockets and topic matching about 25%, decoding and checking records 5%, garbage collection 8%.");
say();

say("## Gateway: latency from device publish to cloud acknowledgement");
say();
const latency = await latencyFigure();
say(`${latency.devices.toLocaleString("en")} devices publish ${LATENCY_RATE.toLocaleString("en")} observations a second in all (achieved ${perSecond(latency.achievedRate)}); the gateway relays them over HTTP to the reference cloud in its own process, which stores them in SQLite and acknowledges. Latency is from the device's publish to the moment the gateway holds the cloud's acknowledgement, for the ${latency.measured.toLocaleString("en")} observations published in the 10 s measured (${latency.missing.toLocaleString("en")} published then but not acknowledged by the end). Baseline: publish → PUBACK on bare aedes at the same rate.`);
say();
say("| path | p50 | p99 |");
say("|---|---|---|");
say(`| publish → cloud ack, through the gateway | **${fixed(latency.cloudP50)} ms** | **${fixed(latency.cloudP99)} ms** |`);
say(`| publish → PUBACK, gateway (committed to SQLite) | ${fixed(latency.gatewayPubackP50, 2)} ms | ${fixed(latency.gatewayPubackP99, 2)} ms |`);
say(`| publish → PUBACK, bare aedes (baseline) | ${fixed(latency.aedesPubackP50, 2)} ms | ${fixed(latency.aedesPubackP99, 2)} ms |`);
say(`| cloud ack / aedes PUBACK | ${fixed(latency.cloudP50 / latency.aedesPubackP50)}× | ${fixed(latency.cloudP99 / latency.aedesPubackP99)}× |`);
say();

say("## Gateway: resident memory with 1,000 devices");
say();
const thousand = ingest.find((f) => f.devices === 1000);
if (thousand) {
  const mib = (bytes: number) => `${fixed(bytes / 1024 / 1024)} MiB`;
  say("Resident set size of each server's process halfway through its 1,000-device ingest run above, all devices connected and publishing. Baseline: bare aedes with the same devices.");
  say();
  say("| bare aedes | gateway | gateway / aedes |");
  say("|---|---|---|");
  say(`| ${mib(thousand.aedesRss)} | **${mib(thousand.gatewayRss)}** | ${fixed(thousand.gatewayRss / thousand.aedesRss, 2)} |`);
  say();
}

say("## Gateway: local API reads as the store grows");
say();
say(`better-sqlite3 is synchronous, so a read the dashboard (every second), /metrics or /api/v1 makes is time the event loop sends no device its PUBACK. Each read timed on a store of ${SMALL_ROWS.toLocaleString("en")} rows and on one of ${LARGE_ROWS.toLocaleString("en")} (${SENSORS} sensors), the gateway's schema: the ratio is the growth. Baseline: the same read on the small store. Opening the store counts it once (the figures are kept in memory after that).`);
say();
say("| read | small store | large store | large / small | target |");
say("|---|---|---|---|---|");
const api = await measureApiFigures();
const ms = (n: number) => (n < 0.01 ? `${fixed(n * 1000, 1)} µs` : `${fixed(n, 2)} ms`);
for (const f of api.calls) {
  const polled = !f.call.includes("after(");
  say(`| \`${f.call}\` | ${ms(f.smallMs)} | ${ms(f.largeMs)} | **${fixed(f.ratio, 1)}** | ${polled ? `≤ 2 (no growth) ${f.ratio <= 2 ? "✓" : "✗"}` : "— (not polled; sorts one sensor's rows past the id)"} |`);
}
say(`| store open (once per start) | ${ms(api.openMs.small)} | ${ms(api.openMs.large)} | ${fixed(api.openMs.large / api.openMs.small, 0)} | — (one count at start) |`);
say();

await rulesSection(say);

say(`Run time: ${fixed((Date.now() - started) / 1000)} s.`);

writeFileSync(RESULTS, lines.join("\n") + "\n");
process.stdout.write(`\nwritten to bench/RESULTS.md\n`);
