/*
 * The gateway on a disk that fills up, for real: its process runs under a
 * file-size limit (`ulimit -f`), so SQLite's writes to the store fail as on
 * a full card (here EFBIG, "disk I/O error"; ENOSPC gives "database or disk
 * is full"), through every real path: group commit, relay marks, disk cap.
 * Then the limit is lifted (prlimit) as when an operator frees space.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import Database from "better-sqlite3";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { FloodingDevice } from "../../support/flooding-device.js";
import { peerProgram } from "../../support/peer-programs.js";
import { tempDir, waitFor, within } from "../../support/test-helpers.js";

const CHILD = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "support", "full-disk-gateway.js");
const SENSORS = ["s-1", "s-2"];
/** In sh's 512-byte blocks: 3 MB, filled by the WAL within a few hundred commits. */
const FILE_SIZE_BLOCKS = 6000;
/** Commit failures to see before judging the log: a flood, not a blip. */
const FAILURES = 100;
const STEP_MS = 20_000;

async function health(http: number): Promise<{ status: number; body: { status: string; reasons?: string[] } }> {
  const response = await fetch(`http://127.0.0.1:${http}/healthz`);
  return { status: response.status, body: (await response.json()) as { status: string; reasons?: string[] } };
}

async function failedCommits(http: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
  return Number(/^xsedge_ingest_failed_total (\d+)$/m.exec(text)?.[1] ?? 0);
}

/** Keeps the device connected (the gateway drops a device whose publish it could not commit) until `running()` is false. */
async function keepConnected(device: FloodingDevice, port: number, running: () => boolean): Promise<void> {
  while (running()) {
    try {
      await device.connect(port);
      await device.closed();
    } catch {
      // refused or reset: try again
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test("a full disk: nothing acknowledged is lost, /healthz says degraded and why, commit failures log a few throttled lines; with room again all is stored and health is ok", async () => {
  const dir = tempDir("full-disk");
  let stderr = "";
  let child: ChildProcess | undefined;
  let running = true;
  const devices = SENSORS.map((id) => new FloodingDevice(id, 8));
  const loops: Promise<void>[] = [];
  try {
    // The soft limit only, so the test may lift it again (no privilege needed).
    child = spawn(peerProgram("sh"), ["-c", `ulimit -S -f ${FILE_SIZE_BLOCKS} && exec "$0" "$@"`, process.execPath, CHILD, dir.path, SENSORS.join(",")], { stdio: ["ignore", "pipe", "pipe"] });
    child.stderr!.on("data", (chunk) => (stderr += chunk));
    let stdout = "";
    child.stdout!.on("data", (chunk) => (stdout += chunk));
    const [mqtt, http] = (await waitFor("the gateway to be ready", () => /ready (\d+) (\d+)/.exec(stdout) || child!.exitCode !== null, STEP_MS) as RegExpExecArray).slice(1).map(Number);
    assert.ok(mqtt > 0, `the gateway exited: ${stderr}`);
    for (const device of devices) loops.push(keepConnected(device, mqtt, () => running));

    const degraded = await within("/healthz to say degraded", (async () => {
      for (;;) {
        const answer = await health(http);
        if (answer.body.status === "degraded") return answer;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })(), STEP_MS);
    assert.is(degraded.status, 503);
    assert.match(degraded.body.reasons!.join("\n"), /^store cannot commit for \d+ ms \((disk I\/O error|database or disk is full)\): publishes are not acknowledged, devices keep them$/m);
    await within("commit failures to pile up", (async () => {
      while ((await failedCommits(http)) < FAILURES) await new Promise((resolve) => setTimeout(resolve, 50));
    })(), STEP_MS);
    const failures = await failedCommits(http);
    const commitLines = stderr.split("\n").filter((line) => line.includes("could not commit publish"));
    assert.ok(commitLines.length >= 1 && commitLines.length <= 3, `${commitLines.length} lines for ${failures} failed commits`);
    const groupLines = stderr.split("\n").filter((line) => line.includes("group commit of"));
    assert.ok(groupLines.length <= 3, `${groupLines.length} group-commit lines`);

    // Room again: the same process commits, devices resend what was never acknowledged.
    const lifted = spawnSync(peerProgram("prlimit"), ["--pid", String(child.pid), "--fsize=unlimited"], { encoding: "utf8" });
    assert.is(lifted.status, 0, lifted.stderr);
    for (const device of devices) device.stop();
    await within("every publish acknowledged", (async () => {
      while (devices.some((d) => d.unacked.size > 0)) await new Promise((resolve) => setTimeout(resolve, 50));
    })(), STEP_MS);
    await within("/healthz ok again", (async () => {
      while ((await health(http)).status !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
    })(), STEP_MS);
  } finally {
    running = false;
    for (const device of devices) device.stop();
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once("exit", resolve));
      child.kill("SIGTERM");
      await within("the gateway to stop", exited).catch(() => child!.kill("SIGKILL"));
    }
    await Promise.race([Promise.all(loops), new Promise((resolve) => setTimeout(resolve, 2000))]);
  }
  const db = new Database(join(dir.path, "observations.db"), { readonly: true });
  const count = db.prepare<[string, number], { n: number }>("SELECT COUNT(*) AS n FROM observations WHERE sensor_id = ? AND seq = ?");
  for (const device of devices) {
    assert.ok(device.acked.size > 0);
    for (const seq of device.acked) assert.is(count.get(device.sensorId, seq)!.n, 1, `${device.sensorId} seq ${seq} acknowledged, stored once`);
  }
  db.close();
  dir.remove();
});

test.run();
