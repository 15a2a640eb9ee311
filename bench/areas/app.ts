/*
 * What the device runtime costs an app: the XS heap after boot, the
 * bundle's bytes and xsnap's compute per sample, for the `xsedge new`
 * template and the built-in app on the runtime, each against the built-in
 * app of the commit before the runtime, rebuilt from git history in the
 * same run (app-figures.ts measures; this file writes them up).
 */
import { figure, type BenchArea, type Figure } from "../bench-area.js";
import { appFigures, BASELINE_COMMIT, type AppFigure, type AppFigures } from "../app-figures.js";
import { BOARD_SLOT_BYTES, HOST_SLOT_BYTES } from "../device-figures.js";

const fixed = (n: number, digits = 1) => n.toFixed(digits);
const kib = (slots: number) => `${fixed((slots * BOARD_SLOT_BYTES) / 1024)} KiB`;
const baselineOf = (m: AppFigures): AppFigure | undefined => ("unavailable" in m.baseline ? undefined : m.baseline);

const app: BenchArea<AppFigures> = {
  id: "app",
  order: 15,
  title: "device apps: what the runtime costs an app (heap, bundle, compute per sample)",
  measure(context) {
    context.log("apps on XS: the baseline from history, the built-in app, the template");
    return appFigures();
  },
  figures(m) {
    const base = baselineOf(m);
    if (!base) return [];
    const against = (f: AppFigure): Figure[] => [
      figure(`${f.app}: XS heap after boot`, f.heapAfterBootSlots, "slots", { name: base.app, value: base.heapAfterBootSlots }),
      figure(`${f.app}: bundle`, f.bundleBytes, "B", { name: base.app, value: base.bundleBytes }),
      figure(`${f.app}: compute per sample`, f.computePerSample, "computrons", { name: base.app, value: base.computePerSample }),
    ];
    return [...against(m.builtin), ...against(m.template)];
  },
  report(m) {
    const lines: string[] = [];
    const say = (line = "") => lines.push(line);
    say("## Device: what the runtime costs an app");
    say();
    say(`Each app on XS (xsnap-worker), one device with a TMP117, a sample a virtual second, publishing to a real gateway on 127.0.0.1: the live heap after boot (10 samples, then a full collection; slots of ${HOST_SLOT_BYTES} bytes here, ${BOARD_SLOT_BYTES} on a 32-bit board), the bytes of its ES module bundle (what mcconfig compiles, comments included), and xsnap's compute meter over 100 samples divided by 100. Baseline: the built-in app of commit ${BASELINE_COMMIT.slice(0, 7)}, before the device runtime, checked out of git history, compiled and bundled with that commit's own configuration in this run (bench/app-figures.ts). The template's TMP117 driver is the Moddable SDK's, which runs in the simulator only with $MODDABLE: its value-level stand-in runs here.`);
    say();
    say("| app | heap after boot | bundle | compute per sample | each vs. baseline (heap, bundle, compute) |");
    say("|---|---|---|---|---|");
    const base = baselineOf(m);
    const ratioOf = (f: AppFigure) => (base ? `${fixed(f.heapAfterBootSlots / base.heapAfterBootSlots, 2)}×, ${fixed(f.bundleBytes / base.bundleBytes, 2)}×, ${fixed(f.computePerSample / base.computePerSample, 2)}×` : "no baseline");
    for (const f of [...(base ? [base] : []), m.builtin, m.template]) {
      say(`| ${f.app} | ${Math.round(f.heapAfterBootSlots).toLocaleString("en")} slots (${kib(f.heapAfterBootSlots)} at 16 B) | ${(f.bundleBytes / 1024).toFixed(1)} KiB | ${Math.round(f.computePerSample).toLocaleString("en")} | ${f === base ? "baseline" : `**${ratioOf(f)}**`} |`);
    }
    if (!base && "unavailable" in m.baseline) say(`| ${m.baseline.app} | not measured: ${m.baseline.unavailable} | | | |`);
    say();
    return lines;
  },
};

export default app;
