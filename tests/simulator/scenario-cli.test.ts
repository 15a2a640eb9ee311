/*
 * `xsedge sim run` as a person runs it: a real process; exit 2 and every
 * error with its file and line for a broken scenario, 0 with the summary
 * table and the JSON report when every expectation held, 1 when one did not.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "../support/test-helpers.js";

const CLI = fileURLToPath(new URL("../../hosts/cli/xsedge.js", import.meta.url));

function run(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, "sim", "run", ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const guard = setTimeout(() => child.kill("SIGKILL"), 90_000);
    child.on("close", (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}

const SMALL = (expect: string) => `name: small
duration: 40s
devices:
  - { name: one, part: sht3x, samplePeriod: 1s, batchMaxAge: 5s }
expect:
${expect}
`;

test("a broken scenario exits 2, listing every error with its file, line and field", async () => {
  const dir = tempDir("sim-run");
  try {
    writeFileSync(join(dir.path, "broken.yaml"), "name: b\nduration: 10 minutes\ndevices:\n  - { name: d, part: lm75 }\n");
    const r = await run(["broken.yaml"], dir.path);
    assert.is(r.code, 2);
    assert.match(r.stderr, /2 errors in the scenario:/);
    assert.match(r.stderr, /broken\.yaml:2:11: duration: must be a duration such as 90s, 10m or 1h30m, got "10 minutes"/);
    assert.match(r.stderr, /broken\.yaml:4:22: devices\[0\]\.part: must be one of tmp117, sht3x, bme280, got "lm75"/);
    const usage = await run(["broken.yaml", "--sed", "3"], dir.path);
    assert.is(usage.code, 2);
    assert.match(usage.stderr, /--sed/);
    assert.is((await run([], dir.path)).code, 2);
  } finally {
    dir.remove();
  }
});

test("a scenario whose expectations hold exits 0 with its progress, summary table and JSON report", async () => {
  const dir = tempDir("sim-run");
  try {
    writeFileSync(join(dir.path, "small.yaml"), SMALL("  - delivered: exactly-once\n  - noUncaught\n"));
    const r = await run(["small.yaml", "--trace", "trace.jsonl"], dir.path);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stderr, /\[#{30}\] 100%/, "the progress bar reached the end");
    assert.match(r.stdout, /Scenario "small" \(.*small\.yaml\), virtual time, seed 1/);
    assert.match(r.stdout, /✓ +delivered "exactly-once" +.*small\.yaml:6:5 +all \d+ of \d+ sampled reached the cloud once/);
    assert.match(r.stdout, /PASSED: 2 of 2 expectations held/);
    const report = JSON.parse(readFileSync(join(dir.path, "small.report.json"), "utf8"));
    assert.is(report.ok, true);
    assert.is(report.totals.devices, 1);
    assert.ok(report.totals.samples >= 38, `${report.totals.samples} samples in 40 s at 1 s`);
    assert.ok(existsSync(join(dir.path, "trace.jsonl")));
    assert.match(readFileSync(join(dir.path, "trace.jsonl"), "utf8"), /"trace":"observation seq=1 temperature=/);
  } finally {
    dir.remove();
  }
});

test("a scenario with an expectation that does not hold exits 1, saying which and why", async () => {
  const dir = tempDir("sim-run");
  try {
    writeFileSync(join(dir.path, "small.yaml"), SMALL("  - noUncaught\n  - flashWear: { maxErases: 0 }\n"));
    const r = await run(["small.yaml", "--report", "out.json", "--no-progress"], dir.path);
    assert.is(r.code, 1, r.stderr);
    assert.is(r.stderr, "", "no progress asked for");
    assert.match(r.stdout, /✗ +flashWear \{"maxErases":0\} +.*small\.yaml:7:5 +worn past 0 erases: one-1 \(1\)/);
    assert.match(r.stdout, /FAILED: 1 of 2 expectations did not hold/);
    assert.is(JSON.parse(readFileSync(join(dir.path, "out.json"), "utf8")).ok, false);
  } finally {
    dir.remove();
  }
});

test.run();
