import { test } from "uvu";
import * as assert from "uvu/assert";
import Database from "better-sqlite3";
import { spawn, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { FloodingDevice, temperatureOf } from "../support/flooding-device.js";
import { tempDir, waitFor, within } from "../support/test-helpers.js";

const CHILD = join(dirname(fileURLToPath(import.meta.url)), "..", "support", "gateway-child.js");
const SENSORS = ["s-1", "s-2", "s-3", "s-4"];
const KILLS = 5;
/** QoS 1 publishes each device keeps in flight: enough that kills land between commit and PUBACK. */
const WINDOW = 32;

async function startChild(dataDir: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [CHILD, dataDir, SENSORS.join(",")], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await within(
    "the gateway child to be ready",
    new Promise<number>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (chunk) => {
        out += chunk;
        const match = /ready (\d+)/.exec(out);
        if (match) resolve(Number(match[1]));
      });
      child.once("exit", (code) => reject(new Error(`gateway child exited (${code}) before it was ready`)));
    }),
    10_000,
  );
  return { child, port };
}

test("SIGKILL at random moments loses no acknowledged observation, and stores none twice", async () => {
  const dir = tempDir("sigkill");
  const devices = SENSORS.map((s) => new FloodingDevice(s, WINDOW));
  const moments: number[] = [];
  try {
    for (let round = 0; round < KILLS; round++) {
      const { child, port } = await startChild(dir.path);
      const exited = new Promise((resolve) => child.once("exit", resolve));
      await Promise.all(devices.map((d) => d.connect(port)));
      const before = devices.reduce((n, d) => n + d.acked.size, 0);
      await waitFor("acknowledgements this round", () => devices.reduce((n, d) => n + d.acked.size, 0) > before + 50, 10_000);
      const moment = Math.floor(Math.random() * 150);
      moments.push(moment);
      await new Promise((resolve) => setTimeout(resolve, moment));
      child.kill("SIGKILL");
      await within("the child to die", exited);
      await within("the devices to see it", Promise.all(devices.map((d) => d.closed())));
    }
    const db = new Database(join(dir.path, "observations.db"));
    const row = db.prepare<[string, number], { n: number; uptime_ms: number; readings: string }>(
      "SELECT COUNT(*) AS n, uptime_ms, readings FROM observations WHERE sensor_id = ? AND seq = ?",
    );
    let checked = 0;
    for (const d of devices) {
      for (const seq of d.acked) {
        const found = row.get(d.sensorId, seq)!;
        assert.is(found.n, 1, `${d.sensorId} seq ${seq}: acknowledged, stored ${found.n} times (kills after ${moments.join(", ")} ms)`);
        assert.is(found.uptime_ms, seq * 1000);
        assert.equal(JSON.parse(found.readings), [{ quantity: "temperature", value: temperatureOf(seq) }]);
        checked++;
      }
    }
    assert.ok(checked > KILLS * 50, `${checked} acknowledged observations checked`);
    db.close();
  } finally {
    dir.remove();
  }
});

test.run();
