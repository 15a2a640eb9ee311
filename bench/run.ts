/*
 * `npm run bench`: measures xsedge's figures, each as a ratio to a baseline
 * measured in the same run (these machines are too noisy for absolute
 * thresholds), and writes them to bench/RESULTS.md, which the README shows.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { arch, cpus, platform } from "node:os";
import { gatewaySections } from "./gateway-report.js";
import { LARGE_ROWS, measureApiFigures, SENSORS, SMALL_ROWS } from "./api-figures.js";
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
const gateway = await gatewaySections();
for (const line of gateway.lines) say(line);

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

say(`Run time: ${fixed((Date.now() - started) / 1000)} s.`);

writeFileSync(RESULTS, lines.join("\n") + "\n");
process.stdout.write(`\nwritten to bench/RESULTS.md\n`);
