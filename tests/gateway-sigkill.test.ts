import { test } from "uvu";
import * as assert from "uvu/assert";
import Database from "better-sqlite3";
import { spawn, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { uplinkTopic } from "../hosts/gateway/ingest.js";
import type { TestMqttClient } from "./support/gateway-mqtt-client.js";
import { obsPayload } from "./support/gateway-records.js";
import { device } from "./support/outbox-gateway.js";
import { tempDir, waitFor, within } from "./support/test-helpers.js";

const CHILD = join(dirname(fileURLToPath(import.meta.url)), "support", "gateway-child.js");
const SENSORS = ["s-1", "s-2", "s-3", "s-4"];
const KILLS = 5;
/** QoS 1 publishes each device keeps in flight: enough that kills land between commit and PUBACK. */
const WINDOW = 32;

/** Varies with seq (so content is checked), in steps the record encodes exactly. */
const temperatureOf = (seq: number) => (seq % 400) / 4;

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

/** A device that keeps WINDOW publishes in flight, remembers what was acked, and resends what was not after a reconnect. */
class FloodingDevice {
  readonly acked = new Set<number>();
  readonly unacked = new Set<number>();
  #next = 1;
  #client: TestMqttClient | undefined;
  #seqOfId = new Map<number, number>();

  constructor(readonly sensorId: string) {}

  async connect(port: number): Promise<void> {
    const client = await device(port, this.sensorId);
    this.#client = client;
    this.#seqOfId = new Map();
    client.onPacket = (packet) => {
      if (packet.cmd !== "puback") return;
      const seq = this.#seqOfId.get(packet.messageId!);
      if (seq === undefined) return;
      this.acked.add(seq);
      this.unacked.delete(seq);
      this.#send(this.#next++);
    };
    // The device kept what was never acknowledged; it goes first.
    const resend = [...this.unacked].sort((a, b) => a - b);
    for (const seq of resend) this.#send(seq);
    while (this.unacked.size < WINDOW) this.#send(this.#next++);
  }

  #send(seq: number): void {
    const client = this.#client!;
    if (!client.connected) return;
    this.unacked.add(seq);
    this.#seqOfId.set(client.publish(uplinkTopic(this.sensorId), obsPayload(this.sensorId, seq, 1, temperatureOf(seq))), seq);
  }

  closed(): Promise<void> {
    return this.#client?.closed ?? Promise.resolve();
  }
}

test("SIGKILL at random moments loses no acknowledged observation, and stores none twice", async () => {
  const dir = tempDir("sigkill");
  const devices = SENSORS.map((s) => new FloodingDevice(s));
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
