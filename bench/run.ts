/*
 * `npm run bench`: runs every area of bench/areas/ several times, takes the
 * median of each area's runs, and writes bench/results.json and
 * bench/RESULTS.md (which the README shows) with the machine and versions.
 * What is measured and how it is written up is each area's own (see
 * bench-area.ts and bench/README.md); this file only collects.
 *
 *   npm run bench                          every area, 3 runs each
 *   npm run bench -- --runs 5              5 runs each
 *   npm run bench -- --only codec,device   those areas; the others keep their last results
 *   npm run bench -- --list                the areas and what they measure
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { goalText, meets, type BenchArea, type Figure } from "./bench-area.js";
import { describeMachine, machineLine, type Machine } from "./machine.js";
import { median, medianOfRuns, spread } from "./median.js";

const AREAS = fileURLToPath(new URL("./areas/", import.meta.url));
const RESULTS_JSON = fileURLToPath(new URL("../../bench/results.json", import.meta.url));
const RESULTS_MD = fileURLToPath(new URL("../../bench/RESULTS.md", import.meta.url));
const DEFAULT_RUNS = 3;

interface AreaResult {
  title: string;
  order: number;
  measuredAt: string;
  runs: number;
  /** The machine line of the bench run that measured it (areas kept from an earlier run keep theirs). */
  machine: string;
  figures?: Array<Figure & { ratioRange: { min: number; max: number } }>;
  /** Each run's figures, for the spread. */
  perRun?: Figure[][];
  median?: unknown;
  markdown?: string[];
  error?: string;
}

interface Results {
  written: string;
  machine: Machine;
  areas: Record<string, AreaResult>;
}

async function loadAreas(): Promise<BenchArea[]> {
  const areas: BenchArea[] = [];
  for (const file of readdirSync(AREAS).filter((f) => f.endsWith(".js")).sort()) {
    const area = (await import(pathToFileURL(AREAS + file).href)).default as BenchArea | undefined;
    if (!area || typeof area.id !== "string" || typeof area.measure !== "function" || typeof area.figures !== "function" || typeof area.report !== "function") {
      throw new Error(`bench/areas/${file} has no default export that is a BenchArea (bench-area.ts)`);
    }
    if (areas.some((a) => a.id === area.id)) throw new Error(`two bench areas are called "${area.id}"`);
    areas.push(area);
  }
  return areas.sort((a, b) => a.order - b.order || a.id.localeCompare(b.id));
}

async function measureArea(area: BenchArea, runs: number, machine: string): Promise<AreaResult> {
  const measured: unknown[] = [];
  const started = new Date().toISOString();
  for (let run = 0; run < runs; run++) {
    const t0 = Date.now();
    process.stdout.write(`[${area.id}] run ${run + 1} of ${runs}\n`);
    measured.push(await area.measure({ run, runs, cores: availableParallelism(), log: (line) => process.stdout.write(`[${area.id}] ${line}\n`) }));
    process.stdout.write(`[${area.id}] run ${run + 1} took ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  const middle = medianOfRuns(measured);
  return written(area, { title: area.title, order: area.order, measuredAt: started, runs, machine, perRun: measured.map((m) => area.figures(m)), median: middle });
}

/**
 * The figures and Markdown of an area's median measurement: each figure's
 * ratio is the median of the runs' own ratios (a figure and its baseline
 * belong to the same run), with the range they spanned.
 */
function written(area: BenchArea, result: AreaResult): AreaResult {
  const perRun = result.perRun ?? [];
  const figures = area.figures(result.median).map((f) => {
    const ratios = perRun.map((run) => run.find((g) => g.name === f.name)?.ratio).filter((r): r is number => typeof r === "number" && !Number.isNaN(r));
    const ratio = ratios.length > 0 ? median(ratios) : f.ratio;
    const judged = f.goal ? { target: goalText(f.goal), met: meets(f.goal, ratio) } : {};
    return { ...f, ratio, ...judged, ratioRange: ratios.length > 0 ? spread(ratios) : { min: ratio, max: ratio } };
  });
  return { ...result, figures, markdown: area.report(result.median, { runs: result.runs }) };
}

const fixed = (n: number) => (Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(n === 0 ? 0 : 2));

function markdown(results: Results): string {
  const lines: string[] = ["# xsedge benchmark results", ""];
  lines.push(`Written ${results.written} by \`npm run bench\` on ${machineLine(results.machine)}. Every figure is the median of several runs (each area says how many), each run measuring the figure and its baseline together; the machine may have been shared while it ran (see the load average).`);
  lines.push("");
  const entries = Object.entries(results.areas).sort(([a, x], [b, y]) => x.order - y.order || a.localeCompare(b));
  lines.push("## Figures", "");
  lines.push("| area | figure | value | baseline | ratio | ratio in the runs | target |");
  lines.push("|---|---|---|---|---|---|---|");
  for (const [id, area] of entries) {
    if (area.error) {
      lines.push(`| ${id} | not measured: ${area.error.replace(/\|/g, "\\|").split("\n")[0]} | | | | | |`);
      continue;
    }
    for (const f of area.figures ?? []) {
      const target = f.target ? `${f.target} ${f.met ? "✓" : "✗"}` : "—";
      lines.push(`| ${id} | ${f.name} | ${fixed(f.value)} ${f.unit} | ${fixed(f.baseline.value)} ${f.unit} (${f.baseline.name}) | **${fixed(f.ratio)}** | ${fixed(f.ratioRange.min)}–${fixed(f.ratioRange.max)} | ${target} |`);
    }
  }
  lines.push("");
  for (const [id, area] of entries) {
    if (area.error || !area.markdown) continue;
    lines.push(...area.markdown);
    const elsewhere = area.machine === machineLine(results.machine) ? "" : ` on ${area.machine}`;
    lines.push(`_${id}: median of ${area.runs} run${area.runs === 1 ? "" : "s"}, measured ${area.measuredAt}${elsewhere}._`, "");
  }
  return lines.join("\n") + "\n";
}

const { values } = parseArgs({ options: { runs: { type: "string" }, only: { type: "string" }, list: { type: "boolean" }, rewrite: { type: "boolean" } } });
const areas = await loadAreas();
if (values.list) {
  for (const area of areas) process.stdout.write(`${area.id.padEnd(10)} ${area.title}\n`);
  process.exit(0);
}
if (values.rewrite) {
  const stored = JSON.parse(readFileSync(RESULTS_JSON, "utf8")) as Results;
  for (const area of areas) {
    const kept = stored.areas[area.id];
    if (kept && !kept.error && kept.median !== undefined) stored.areas[area.id] = written(area, kept);
  }
  writeFileSync(RESULTS_JSON, JSON.stringify(stored, null, 2) + "\n");
  writeFileSync(RESULTS_MD, markdown(stored));
  process.stdout.write("bench/results.json and bench/RESULTS.md written again from the stored medians\n");
  process.exit(0);
}
const runs = values.runs === undefined ? undefined : Number(values.runs);
if (runs !== undefined && !(Number.isInteger(runs) && runs >= 1)) throw new Error(`--runs must be a positive integer, got ${values.runs}`);
const only = values.only?.split(",").map((s) => s.trim());
for (const id of only ?? []) if (!areas.some((a) => a.id === id)) throw new Error(`no bench area "${id}" (there are ${areas.map((a) => a.id).join(", ")})`);

const machine = describeMachine();
const line = machineLine(machine);
const previous: Results | undefined = only && existsSync(RESULTS_JSON) ? (JSON.parse(readFileSync(RESULTS_JSON, "utf8")) as Results) : undefined;
const results: Results = { written: new Date().toISOString(), machine, areas: {} };
let failed = false;
for (const area of areas) {
  if (only && !only.includes(area.id)) {
    const kept = previous?.areas[area.id];
    if (kept) results.areas[area.id] = kept;
    continue;
  }
  try {
    results.areas[area.id] = await measureArea(area, runs ?? area.runs ?? DEFAULT_RUNS, line);
  } catch (error) {
    failed = true;
    process.stderr.write(`[${area.id}] failed: ${(error as Error).stack ?? error}\n`);
    results.areas[area.id] = { title: area.title, order: area.order, measuredAt: new Date().toISOString(), runs: 0, machine: line, error: (error as Error).message };
  }
}
machine.loadAtEnd = loadavg()[0];
for (const area of Object.values(results.areas)) if (area.machine === line) area.machine = machineLine(machine);
writeFileSync(RESULTS_JSON, JSON.stringify(results, null, 2) + "\n");
const md = markdown(results);
writeFileSync(RESULTS_MD, md);
process.stdout.write(`\n${md}\nwritten to bench/results.json and bench/RESULTS.md\n`);
process.exitCode = failed ? 1 : 0;
