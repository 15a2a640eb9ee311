/*
 * The hook every area of `npm run bench` plugs into (see bench/README.md).
 *
 * An area is a file in bench/areas/ whose default export is a BenchArea.
 * run.ts finds it there, calls measure() several times, takes the
 * element-wise median of what the runs returned, and writes that median's
 * figures() to bench/results.json and its report() to bench/RESULTS.md.
 * An area owns its measuring and its prose; run.ts owns only the runs,
 * the medians, the machine's description and the files.
 *
 * Why each part:
 * - measure() returns plain data (numbers, strings, arrays and objects of
 *   them) and nothing else, so that runs can be combined leaf by leaf: the
 *   median of every number across runs, strings from the first run. Every
 *   figure's baseline is measured inside the same call, so a figure and its
 *   baseline always come from the same run (these machines are too noisy
 *   for absolute thresholds).
 * - figures() names the headline figures of a measurement, each beside its
 *   baseline, for results.json: what a reader or a script compares across
 *   commits.
 * - report() writes the area's sections of RESULTS.md (Markdown lines,
 *   headings included) from the median measurement.
 */

/** A goal for a figure's ratio. */
export type Goal = { atMost: number } | { atLeast: number };

/** One headline figure and the baseline it is judged against. */
export interface Figure {
  /** Unique within the area, e.g. "durable ingest, 100 devices". */
  name: string;
  value: number;
  /** "obs/s", "µs", "B", "slots", "years", ... */
  unit: string;
  baseline: { name: string; value: number };
  /**
   * value / baseline.value. In results.json and RESULTS.md it is the median
   * of the runs' own ratios (run.ts puts it there), not the ratio of the
   * medians: a figure and its baseline belong to the same run.
   */
  ratio: number;
  goal?: Goal;
  /** The goal as text ("≤ 0.25"). */
  target?: string;
  /** Whether the ratio meets the goal. */
  met?: boolean;
}

export function goalText(goal: Goal): string {
  return "atMost" in goal ? `≤ ${goal.atMost}` : `≥ ${goal.atLeast}`;
}

export function meets(goal: Goal, ratio: number): boolean {
  return "atMost" in goal ? ratio <= goal.atMost : ratio >= goal.atLeast;
}

/** What run.ts tells an area about the run it is in. */
export interface BenchContext {
  /** 0 for the first run of this area, up to runs - 1. */
  run: number;
  runs: number;
  /** Logical CPUs of the machine. */
  cores: number;
  /** A progress line on stdout (not in RESULTS.md). */
  log(line: string): void;
}

export interface BenchArea<M = unknown> {
  /** Key in results.json and for `npm run bench -- --only <id>`: lower case, e.g. "ingest". */
  id: string;
  /** Where its sections go in RESULTS.md: lower first (device 10, codec 20, ingest 30, backlog 40, api 50, rules 60). */
  order: number;
  /** What it measures, one line (the table of contents of RESULTS.md). */
  title: string;
  /** Runs whose median is reported; run.ts's default (3) when absent. */
  runs?: number;
  measure(context: BenchContext): Promise<M>;
  figures(median: M): Figure[];
  report(median: M, context: { runs: number }): string[];
}

/** A figure whose ratio is value / baseline, judged against `goal` when given. */
export function figure(name: string, value: number, unit: string, baseline: { name: string; value: number }, goal?: Goal): Figure {
  const ratio = value / baseline.value;
  return { name, value, unit, baseline, ratio, ...(goal ? { goal, target: goalText(goal), met: meets(goal, ratio) } : {}) };
}
