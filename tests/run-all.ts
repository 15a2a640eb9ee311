/*
 * Runs every compiled test file (the .test.js files under dist/tests, one folder per
 * area) in its own Node
 * process, two at a time (CI has two cores), each with a time limit, so one
 * file's leaked socket or hung wait cannot stall the suite or hide another
 * file's result. Ends with one line "N passed, M failed".
 */
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const FILE_LIMIT_MS = 180_000;
const CONCURRENCY = Number(process.env.XSEDGE_TEST_CONCURRENCY ?? 2);
const here = dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2] ? new RegExp(process.argv[2]) : undefined;
// Paths relative to dist/tests, e.g. "gateway/ingest/broker.test.js"; the filter matches them.
const files = (readdirSync(here, { recursive: true, encoding: "utf8" }) as string[])
  .filter((f) => f.endsWith(".test.js") && (!filter || filter.test(f)))
  .map((f) => relative(here, join(here, f)))
  .sort();

interface Outcome { file: string; passed: number; failed: number; code: number | null; output: string; ms: number }

// uvu's summary lines, with its colour codes removed.
function count(output: string, label: string): number {
  const plain = output.replace(/\x1b\[[0-9;]*m/g, "");
  let total = 0;
  for (const match of plain.matchAll(new RegExp(`^\\s*${label}:\\s+(\\d+)`, "gm"))) total += Number(match[1]);
  return total;
}

function runFile(file: string): Promise<Outcome> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(here, file)], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, FORCE_COLOR: "0" } });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => {
      output += `\n${file}: killed after ${FILE_LIMIT_MS} ms\n`;
      child.kill("SIGKILL");
    }, FILE_LIMIT_MS);
    child.on("close", (code) => {
      clearTimeout(timer);
      const total = count(output, "Total");
      const passed = count(output, "Passed");
      // A file that crashed or timed out before its summary counts as one failure.
      const failed = code === 0 ? total - passed - count(output, "Skipped") : Math.max(1, total - passed);
      resolve({ file, passed, failed, code, output, ms: Date.now() - started });
    });
  });
}

const outcomes: Outcome[] = [];
const queue = [...files];
await Promise.all(Array.from({ length: Math.max(1, CONCURRENCY) }, async () => {
  for (let file = queue.shift(); file; file = queue.shift()) {
    const outcome = await runFile(file);
    outcomes.push(outcome);
    const status = outcome.failed === 0 && outcome.code === 0 ? "ok  " : "FAIL";
    process.stdout.write(`${status} ${file} (${outcome.passed} passed, ${outcome.failed} failed, ${outcome.ms} ms)\n`);
    if (status === "FAIL") process.stdout.write(outcome.output.replace(/^/gm, "    ") + "\n");
  }
}));

const passed = outcomes.reduce((n, o) => n + o.passed, 0);
const failed = outcomes.reduce((n, o) => n + o.failed, 0);
if (files.length === 0) process.stdout.write("no test files found\n");
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exitCode = failed > 0 || files.length === 0 ? 1 : 0;
