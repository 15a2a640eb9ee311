/*
 * The fuzzing harness: a fast-check property run against a time budget, so
 * every decoder that takes outside bytes is fuzzed in `npm test` without
 * making the suite slow, and a failure says how to replay it.
 *
 *   const report = await fuzz("record decoder", fc.uint8Array({ maxLength: 300 }), (bytes) => {
 *     try { check(decodeUplinkRecord(bytes)); } catch (e) { assertClearError(e, [ObservationError]); }
 *   }, { budgetMs: 2000 });
 *
 * What it adds to fc.check:
 * - a budget: runs stop after `budgetMs` (or `maxRuns`); fewer than
 *   `minRuns` in the budget fails, so a property cannot pass by doing nothing;
 * - hangs: an async run still pending after `runTimeoutMs` fails, and so does
 *   one that returned later than that twice in a row (once may be the shared
 *   machine; a synchronous loop that never returns is left to run-all's
 *   per-file limit);
 * - memory: the heap after a full GC may grow by at most `maxHeapGrowthBytes`
 *   over the whole property (the target's memory, when it runs in-process);
 * - replay: the seed and shrink path of a failure are in the error message,
 *   with the variables that replay it: XSEDGE_FUZZ_SEED (and
 *   XSEDGE_FUZZ_PATH for the shrunk case itself). A shrunk counterexample is
 *   then kept in the test file as a regression (a test of its own, and in
 *   `examples`, which run first on every run).
 * - seeds: fixed per property in `npm test` (see `suiteSeed`), new ones
 *   with XSEDGE_FUZZ_RANDOM=1;
 * - depth on demand: XSEDGE_FUZZ_SCALE=20 multiplies every budget (and
 *   maxRuns) for a longer hunt than the suite's; `npm run fuzz` is the hunt:
 *   new seeds, budgets ×10 (XSEDGE_FUZZ_SCALE overrides it).
 *
 * Other decoders plug in the same way: an arbitrary of their inputs (mutate
 * valid ones with `mutatedBytes` / `mutatedText`), a check that accepts
 * either a valid result or a clear error (`assertClearError`), and a budget.
 */
import fc from "fast-check";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

export { fc };

export interface FuzzOptions<T> {
  /** Runs stop being started after this long; what ran counts. */
  budgetMs: number;
  /** At most this many runs (default 100,000: the budget is what stops most properties). */
  maxRuns?: number;
  /** Fewer runs than this within the budget is a failure (default 10). */
  minRuns?: number;
  /** A single run taking longer is a hang (default 2,000 ms). */
  runTimeoutMs?: number;
  /** Heap growth (after a full GC) allowed over the whole property (default 32 MiB). */
  maxHeapGrowthBytes?: number;
  /** Inputs run before the generated ones: the shrunk counterexamples of past failures. */
  examples?: T[];
}

export interface FuzzReport {
  name: string;
  runs: number;
  seed: number;
  ms: number;
  heapGrowthBytes: number;
}

/** Every report of this process, for a test file's closing summary line. */
export const reports: FuzzReport[] = [];

setFlagsFromString("--expose-gc");
const collect = runInNewContext("gc") as () => void;

function heapAfterGc(): number {
  collect();
  collect();
  return process.memoryUsage().heapUsed;
}

/**
 * The seed `npm test` uses for a property: fixed, from its name. The suite
 * that gates a merge explores the same inputs every time (a slower machine
 * runs a prefix of them), so a red build means the code changed, not that
 * the dice did; `npm run fuzz` (XSEDGE_FUZZ_RANDOM=1, budgets ×10) hunts with
 * new seeds, and what it finds is kept as a regression here.
 */
function suiteSeed(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193);
  return hash | 0;
}

function envSeed(): { seed?: number; path?: string } {
  const seed = process.env.XSEDGE_FUZZ_SEED;
  const path = process.env.XSEDGE_FUZZ_PATH;
  return { seed: seed === undefined ? undefined : Number(seed), path: path || undefined };
}

/** XSEDGE_FUZZ_SCALE: what every budget and maxRuns is multiplied by (1 in `npm test`); for a property whose fixture must grow with its runs. */
export function fuzzScale(): number {
  return Number(process.env.XSEDGE_FUZZ_SCALE ?? 1) || 1;
}

/** Runs `check` on generated inputs until the budget is spent; throws with the shrunk counterexample and its seed on failure. */
export async function fuzz<T>(
  name: string,
  arbitrary: fc.Arbitrary<T>,
  check: (input: T) => void | Promise<void>,
  options: FuzzOptions<T>,
): Promise<FuzzReport> {
  const scale = fuzzScale();
  const budgetMs = options.budgetMs * scale;
  const runTimeoutMs = options.runTimeoutMs ?? 2000;
  const minRuns = options.minRuns ?? 10;
  const replay = envSeed();
  const timed = async (input: T): Promise<void> => {
    const started = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const result = check(input);
    if (result instanceof Promise) {
      const hang = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`hang: the run was still pending after ${runTimeoutMs} ms`)), runTimeoutMs);
      });
      try {
        await Promise.race([result, hang]);
      } finally {
        clearTimeout(timer);
      }
    }
    const took = performance.now() - started;
    if (took <= runTimeoutMs) return;
    // A slow run on a shared machine may be a GC pause or the scheduler: it counts as a hang only if it is slow again.
    const again = performance.now();
    await check(input);
    const retook = performance.now() - again;
    if (retook > runTimeoutMs) throw new Error(`hang: the run took ${Math.round(took)} ms, and ${Math.round(retook)} ms again (limit ${runTimeoutMs} ms)`);
  };
  // Chosen here and printed first, so that a run killed by run-all's limit (a synchronous hang) can be replayed.
  const seed = replay.seed ?? (process.env.XSEDGE_FUZZ_RANDOM ? Math.floor(Math.random() * 0x100000000) | 0 : suiteSeed(name));
  process.stdout.write(`  fuzz "${name}": seed ${seed} (XSEDGE_FUZZ_SEED=${seed} replays it)\n`);
  const heapBefore = heapAfterGc();
  const started = Date.now();
  const details = await fc.check(fc.asyncProperty(arbitrary, timed), {
    numRuns: (options.maxRuns ?? 100_000) * scale,
    seed,
    path: replay.path,
    examples: (options.examples ?? []).map((example) => [example] as [T]),
    // Shrinking counts against the budget too; the seed and path replay from where it stopped.
    plugins: [fc.interruptAfterTimeLimit(budgetMs)],
  });
  const ms = Date.now() - started;
  if (details.failed) {
    const input = details.counterexample ? fc.stringify((details.counterexample as unknown as [T])[0]) : "(none)";
    const error = details.errorInstance as (Error & { actual?: unknown }) | undefined;
    // uvu's assertions keep what was found apart from their message.
    const found = error && "actual" in error && error.actual !== undefined ? ` (found: ${String(typeof error.actual === "string" ? error.actual : JSON.stringify(error.actual)).slice(0, 600)})` : "";
    const cause = (error instanceof Error ? error.message : String(error)) + found;
    throw new Error(
      `fuzz "${name}" failed after ${details.numRuns} runs on ${input}: ${cause}\n` +
        `  replay: XSEDGE_FUZZ_SEED=${details.seed} XSEDGE_FUZZ_PATH=${details.counterexamplePath ?? ""} (seed ${details.seed}, shrink path "${details.counterexamplePath ?? ""}")`,
    );
  }
  const heapGrowthBytes = heapAfterGc() - heapBefore;
  const maxGrowth = options.maxHeapGrowthBytes ?? 32 * 1024 * 1024;
  if (heapGrowthBytes > maxGrowth) {
    throw new Error(`fuzz "${name}": the heap grew by ${(heapGrowthBytes / 2 ** 20).toFixed(1)} MiB over ${details.numRuns} runs (limit ${(maxGrowth / 2 ** 20).toFixed(1)} MiB; seed ${details.seed})`);
  }
  // A replay of one shrunk case (XSEDGE_FUZZ_PATH) runs it alone.
  if (details.numRuns < minRuns && replay.path === undefined) {
    throw new Error(`fuzz "${name}": only ${details.numRuns} runs within ${budgetMs} ms (at least ${minRuns} expected; seed ${details.seed})`);
  }
  const report = { name, runs: details.numRuns, seed: details.seed, ms, heapGrowthBytes };
  reports.push(report);
  return report;
}

/** One line per property, for `test.after`: how much each was fuzzed, and with which seed. */
export function summary(): string[] {
  return reports.map((r) => `${r.name}: ${r.runs.toLocaleString("en")} runs in ${r.ms} ms, seed ${r.seed}, heap ${r.heapGrowthBytes >= 0 ? "+" : ""}${(r.heapGrowthBytes / 1024).toFixed(0)} KiB`);
}

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Fails unless `error` is an instance of one of `classes` with a message
 * that says something (not empty, no "[object Object]"): what "a clear
 * error" means for a decoder. Returns the error.
 */
export function assertClearError(error: unknown, classes: readonly ErrorClass[], context = ""): Error {
  const where = context ? `${context}: ` : "";
  if (!(error instanceof Error)) throw new Error(`${where}threw ${String(error)}, not an Error`);
  if (!classes.some((c) => error instanceof c)) {
    throw new Error(`${where}threw ${error.name} ("${error.message}"), not one of ${classes.map((c) => c.name).join(", ")}`, { cause: error });
  }
  if (error.message.trim() === "" || error.message.includes("[object Object]")) throw new Error(`${where}an unclear message: "${error.message}"`);
  // Messages reach log lines, the quarantine and the API: bytes from outside must not carry a NUL, a terminal escape
  // or a line break into them.
  const control = error.message.search(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
  if (control >= 0) throw new Error(`${where}a message with U+${error.message.charCodeAt(control).toString(16).padStart(4, "0")} in it: ${JSON.stringify(error.message)}`);
  return error;
}

type Mutation =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "set"; at: number; byte: number }
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "delete"; at: number; length: number }
  | { kind: "truncate"; at: number }
  | { kind: "repeat"; at: number; length: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant("set" as const), at: fc.nat(), byte: fc.constantFrom(0x00, 0xff, 0x7f, 0x80, 0x1f, 0x18, 0x19, 0x1a, 0x1b) }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("repeat" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
);

function apply(bytes: Uint8Array, m: Mutation): Uint8Array {
  const n = bytes.length;
  if (n === 0) return m.kind === "insert" ? m.bytes : bytes;
  const at = m.at % n;
  switch (m.kind) {
    case "flip": {
      const out = Uint8Array.from(bytes);
      out[at] ^= 1 << m.bit;
      return out;
    }
    case "set": {
      const out = Uint8Array.from(bytes);
      out[at] = m.byte;
      return out;
    }
    case "insert":
      return concat(bytes.subarray(0, at), m.bytes, bytes.subarray(at));
    case "delete":
      return concat(bytes.subarray(0, at), bytes.subarray(at + m.length));
    case "truncate":
      return bytes.slice(0, at);
    case "repeat":
      return concat(bytes.subarray(0, at + m.length), bytes.subarray(at));
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Valid inputs from `valid`, each with 1..`maxMutations` byte-level mutations (flips, overwrites, inserts, deletes, cuts, repeats). */
export function mutatedBytes(valid: fc.Arbitrary<Uint8Array>, maxMutations = 4): fc.Arbitrary<Uint8Array> {
  return fc.tuple(valid, fc.array(mutation, { minLength: 1, maxLength: maxMutations })).map(([bytes, mutations]) => mutations.reduce(apply, bytes));
}

/** The same for text (scenario files, config files, rule sources): mutated as UTF-8 bytes, decoded leniently. */
export function mutatedText(valid: fc.Arbitrary<string>, maxMutations = 4): fc.Arbitrary<string> {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  return mutatedBytes(valid.map((s) => encoder.encode(s)), maxMutations).map((bytes) => decoder.decode(bytes));
}
