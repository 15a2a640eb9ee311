/*
 * The device runtime's figures: bytes per observation in flash, projected
 * flash life, the XS heap after 10,000 samples, and the bundles' sizes;
 * each against its baseline from the same run (device-figures.ts,
 * bundle-figures.ts measure; this file writes them up).
 */
import { figure, type BenchArea } from "../bench-area.js";
import { bundleFigures, type BundleFigure } from "../bundle-figures.js";
import {
  BOARD_SLOT_BYTES, HOST_SLOT_BYTES, flashBytesFigures, flashLifeFigures, heapFigure,
  type FlashBytesFigure, type FlashLifeFigure, type HeapFigure,
} from "../device-figures.js";

interface DeviceMeasurement {
  flashBytes: FlashBytesFigure[];
  flashLife: FlashLifeFigure[];
  heap: HeapFigure;
  bundles: BundleFigure[];
}

const fixed = (n: number, digits = 1) => n.toFixed(digits);
const kib = (bytes: number) => `${fixed(bytes / 1024)} KiB`;

const device: BenchArea<DeviceMeasurement> = {
  id: "device",
  order: 10,
  title: "device: flash bytes per observation, flash life, XS heap, bundle sizes",
  async measure(context) {
    context.log("flash bytes and flash life (NOR model)");
    const flashBytes = flashBytesFigures();
    const flashLife = flashLifeFigures();
    context.log("XS heap over 10,000 samples");
    const heap = await heapFigure();
    context.log("bundle sizes");
    return { flashBytes, flashLife, heap, bundles: await bundleFigures() };
  },
  figures(m) {
    const [batched, single] = m.flashLife;
    return [
      ...m.flashBytes.map((f) => figure(`flash bytes per observation, ${f.part}, batched`, f.flashBytes, "B", { name: "the same as JSON", value: f.jsonBytes }, { atMost: 0.25 })),
      figure("projected flash life, batches of 10", batched.years, "years", { name: "one record per sample", value: single.years }),
      figure("XS heap after 10,000 samples", m.heap.afterSamplesSlots, "slots", { name: "after boot", value: m.heap.afterBootSlots }, { atMost: 1.01 }),
      ...m.bundles.map((b) => figure(`bundle ${b.file}`, b.bytes, "B", { name: "its modules as tsc emitted them", value: b.sourceBytes })),
    ];
  },
  report(m) {
    const lines: string[] = [];
    const say = (line = "") => lines.push(line);
    say("## Device: bytes per observation in flash");
    say();
    say("Samples one second apart, batches closed after 10 samples (the default `batchMaxAgeMs` of 10 s), written to the FlashLog on the NOR model: space used per sample, framing and block headers included. Baseline: the same observation as JSON (with units named), its values at the resolution the record carries (runs before this bench's restructuring printed them with every digit of a double, which made JSON 9–16% larger).");
    say();
    say("| part | flash, batched | flash, one record per sample | JSON | batched / JSON | target |");
    say("|---|---|---|---|---|---|");
    for (const f of m.flashBytes) {
      say(`| ${f.part} | ${fixed(f.flashBytes)} B | ${fixed(f.singleRecordBytes)} B | ${fixed(f.jsonBytes)} B | **${fixed(f.ratio, 3)}** | ≤ 0.25 ${f.ratio <= 0.25 ? "✓" : "✗"} |`);
    }
    say();
    say("## Device: projected flash life");
    say();
    say(`TMP117 samples at one a second into a 64 KB log (16 blocks of 4 KB), each record released as the gateway acknowledges it; the most-erased block's erase rate, against ${(100_000).toLocaleString("en")} cycles. Baseline: one record per sample.`);
    say();
    say("| records | erases per block per year | projected life | vs. one record per sample | target |");
    say("|---|---|---|---|---|");
    const single = m.flashLife[1];
    for (const f of m.flashLife) {
      say(`| ${f.perBatch === 1 ? "one per sample" : `batches of ${f.perBatch}`} | ${Math.round(f.erasesPerBlockPerYear).toLocaleString("en")} | **${fixed(f.years)} years** | ${fixed(f.years / single.years, 2)}× | ≥ 15 years ${f.years >= 15 ? "✓" : "✗"} |`);
    }
    say();
    say("## Device: XS heap does not grow with samples");
    say();
    const heap = m.heap;
    say(`The device bundle on XS (xsnap-worker) with a BME280 model, sampling once a virtual second and publishing to a real gateway on 127.0.0.1 that has it registered; the live heap after a full garbage collection (xsnap's \`currentHeapCount\`, in slots of ${HOST_SLOT_BYTES} bytes here, ${BOARD_SLOT_BYTES} on a 32-bit board). ${Math.round(heap.stored).toLocaleString("en")} observations reached the gateway.`);
    say();
    say("| after boot (10 samples) | after 10,000 samples | ratio | target |");
    say("|---|---|---|---|");
    say(`| ${Math.round(heap.afterBootSlots).toLocaleString("en")} slots (${kib(heap.afterBootSlots * BOARD_SLOT_BYTES)} at 16 B) | ${Math.round(heap.afterSamplesSlots).toLocaleString("en")} slots (${kib(heap.afterSamplesSlots * BOARD_SLOT_BYTES)}) | **${fixed(heap.ratio, 3)}** | ≤ 1.0 (no growth) ${heap.ratio <= 1.01 ? "✓" : "✗"} |`);
    say();
    say("xsnap evaluates the whole bundle into its heap, code and module objects included; on a board mcconfig preloads those into flash, so a board's heap holds less (mcsim measured about 3,800 slots for an earlier build of the app, hosts/esp32/manifest.json).");
    say();
    say("## Device: bundle sizes");
    say();
    say("The device bundles, built again here with rollup.config.js. Baseline: the same modules as tsc emitted them, before bundling (the ratio is what bundling keeps of them).");
    say();
    say("| bundle | bytes | gzip | modules | modules as emitted | bundle / emitted | largest modules |");
    say("|---|---|---|---|---|---|---|");
    for (const b of m.bundles) {
      say(`| \`${b.file}\` | **${kib(b.bytes)}** | ${kib(b.gzipBytes)} | ${b.modules} | ${kib(b.sourceBytes)} | ${fixed(b.ratio, 2)} | ${b.largest.map((l) => `${l.module.replace(/^dist\//, "")} ${kib(l.bytes)}`).join(", ")} |`);
    }
    say();
    return lines;
  },
};

export default device;
