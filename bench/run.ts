/*
 * `npm run bench`: measures xsedge's figures, each as a ratio to a baseline
 * measured in the same run (these machines are too noisy for absolute
 * thresholds), and writes them to bench/RESULTS.md, which the README shows.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { arch, cpus, platform } from "node:os";
import { ingestFigures, latencyFigure, LATENCY_RATE } from "./gateway-figures.js";
import { BOARD_SLOT_BYTES, HOST_SLOT_BYTES, flashBytesFigures, flashLifeFigures, heapFigure } from "./device-figures.js";

const RESULTS = fileURLToPath(new URL("../../bench/RESULTS.md", import.meta.url));
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
say("Where the gateway's time goes (a CPU profile of the one-device run, `node --cpu-prof`, when this text was written): SQLite about 40% — the insert into the table and its three indexes 21%, the commit (WAL write and fsync) 12%, the relay's mark of the acknowledged rows 8% — decoding and checking the record 6%, garbage collection 6%, and aedes with its sockets about 40%, which is the baseline's whole job. The relay no longer reads back what was just committed (it gets the rows from memory), marks acknowledged rows one UPDATE per run of ids, and the WAL is checkpointed every 10,000 pages; the same run before those changes measured 0.31–0.41, at 21–27 µs (1 device), 29–30 µs (100) and 59–62 µs (1,000) of gateway CPU per observation.");
say();
say("Why not 0.8: the load generator takes one of the two cores, so the gateway has one core to do all of aedes's work plus the durable work. Bare aedes needs 7–9 µs of CPU per observation here (and is itself held back by the generator); 0.8 of its rate leaves 2–3 µs per observation for everything durable, while the store's own statements measured alone (insert, group commit at synchronous=FULL, mark) take about 4 µs per row with one device. With 1,000 devices each group commit also dirties one page of the (sensor, seq) index per device, which is what dedup by (sensor, seq) costs. A profile with no JavaScript overhead at all would still stop near 0.7.");
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

say(`Run time: ${fixed((Date.now() - started) / 1000)} s.`);

writeFileSync(RESULTS, lines.join("\n") + "\n");
process.stdout.write(`\nwritten to bench/RESULTS.md\n`);
