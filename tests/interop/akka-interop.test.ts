/*
 * Issue 4's "done when", against an implementation of the two Akka services
 * that was written only from shared/akka-projection-grpc.md, with its own
 * .proto files (tests/support/akka-standin/): the gateway binary, as an
 * operator runs it, consumes registrations and delivers observations with
 * acks; the stand-in and then the gateway are SIGKILLed mid-stream and
 * restarted, and the consumer ends with every acknowledged observation
 * exactly once and nothing it did not get from a device.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { standinClients } from "../support/akka-standin/client.js";
import { StandinProcess } from "../support/akka-standin/standin-process.js";
import { StandinStore } from "../support/akka-standin/standin-store.js";
import { FloodingDevice, temperatureOf } from "../support/flooding-device.js";
import { secretOf } from "../support/outbox-gateway.js";
import { freePort, tempDir, waitFor, within } from "../support/test-helpers.js";

const XSEDGE = fileURLToPath(new URL("../../hosts/cli/xsedge.js", import.meta.url));
// Ids as devices use them (record.ts: ASCII); the consumer's own tests cover any string as an entity id.
const SENSORS = ["s-1", "kitchen.2", "0042"];
const LATE_SENSOR = "registered-while-the-gateway-was-down";
/** Publishes each device keeps in flight. */
const WINDOW = 8;
/** Waits on a 2-core CI machine with two processes restarting. */
const STEP_MS = 30_000;

class GatewayProcess {
  output = "";
  readonly #exited: Promise<void>;
  private constructor(readonly child: ChildProcess) {
    this.#exited = new Promise((resolve) => child.once("exit", () => resolve()));
    child.stderr!.on("data", (chunk) => (this.output += chunk));
  }

  static async start(dataDir: string, mqttPort: number, akkaPort: number): Promise<GatewayProcess> {
    const child = spawn(process.execPath, [
      XSEDGE, "gateway", "--data-dir", dataDir, "--mqtt-port", String(mqttPort), "--http-port", "off",
      "--cloud-target", `127.0.0.1:${akkaPort}`, "--relay-retry-max-ms", "1000", "--registration-retry-max-ms", "1000", "--log-level", "info",
      // The Akka sample's cloud reads only its TemperatureRead: chosen explicitly, as beside the sample.
      "--cloud-akka-payload", "temperature",
    ], { stdio: ["ignore", "ignore", "pipe"] });
    const started = new GatewayProcess(child);
    await waitFor("the gateway to start", () => /gateway started/.test(started.output) || child.exitCode !== null, STEP_MS);
    if (child.exitCode !== null) throw new Error(`the gateway exited with ${child.exitCode}: ${started.output}`);
    return started;
  }

  async kill(): Promise<void> {
    this.child.kill("SIGKILL");
    await within("the gateway to die", this.#exited);
  }

  async stop(): Promise<void> {
    this.child.kill("SIGTERM");
    await within("the gateway to stop", this.#exited, STEP_MS);
  }
}

/** Polls an async check every `POLL_MS` (each look at the consumer opens its SQLite file). */
const POLL_MS = 100;
async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs = STEP_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Until the gateway has the registration, it refuses the login (CONNACK 5): try again. */
async function connectWhenRegistered(device: FloodingDevice, port: number): Promise<void> {
  let last: unknown;
  await eventually(`${device.sensorId} to be let in`, async () => {
    try {
      await device.connect(port);
      return true;
    } catch (e) {
      last = e;
      return false;
    }
  }).catch((e: Error) => {
    throw new Error(`${e.message} (last refusal: ${String(last)})`);
  });
}

test("the gateway binary beside an independent Akka implementation: restarts of either side lose and duplicate nothing", async () => {
  const dir = tempDir("akka-interop");
  const standinDir = join(dir.path, "standin");
  const gatewayDir = join(dir.path, "gateway");
  const devices = SENSORS.map((id) => new FloodingDevice(id, WINDOW));
  let standin = await StandinProcess.start(standinDir);
  const akkaPort = standin.port;
  const mqttPort = await freePort();
  let gateway: GatewayProcess | undefined;
  const consumer = () => new StandinStore(standinDir);
  const consumedCount = () => {
    const store = consumer();
    try {
      return store.consumed().length;
    } finally {
      store.close();
    }
  };
  try {
    const clients = standinClients(akkaPort);
    for (const id of SENSORS) await clients.register(id, secretOf(id));
    clients.close();
    gateway = await GatewayProcess.start(gatewayDir, mqttPort, akkaPort);
    for (const d of devices) await connectWhenRegistered(d, mqttPort);
    await eventually("observations at the consumer", () => consumedCount() >= 60);

    // The cloud side dies mid-stream and comes back on the same port.
    await standin.kill();
    const whileDown = devices.reduce((n, d) => n + d.acked.size, 0);
    await waitFor("the gateway to keep acknowledging while the cloud is down", () => devices.reduce((n, d) => n + d.acked.size, 0) > whileDown + 30, STEP_MS);
    standin = await StandinProcess.start(standinDir, [], akkaPort);
    const afterCloudRestart = consumedCount();
    await eventually("deliveries after the cloud's restart", () => consumedCount() > afterCloudRestart + 60);

    // The gateway dies mid-stream; a sensor registers meanwhile.
    await gateway.kill();
    await within("the devices to see it", Promise.all(devices.map((d) => d.closed())));
    const late = standinClients(akkaPort);
    await late.register(LATE_SENSOR, secretOf(LATE_SENSOR));
    late.close();
    gateway = await GatewayProcess.start(gatewayDir, mqttPort, akkaPort);
    const lateDevice = new FloodingDevice(LATE_SENSOR, WINDOW);
    devices.push(lateDevice);
    for (const d of devices) await connectWhenRegistered(d, mqttPort);
    const afterGatewayRestart = consumedCount();
    await eventually("deliveries after the gateway's restart", () => consumedCount() > afterGatewayRestart + 60 && lateDevice.acked.size > 10);

    for (const d of devices) d.stop();
    await waitFor("every device's publishes to be acknowledged", () => devices.every((d) => d.unacked.size === 0), STEP_MS);
    const acked = devices.reduce((n, d) => n + d.acked.size, 0);
    await eventually("every acknowledged observation at the consumer", () => consumedCount() >= acked);

    const store = consumer();
    const consumed = store.consumed();
    const counters = store.counters();
    store.close();
    const byPid = new Map<string, Map<number, (typeof consumed)[number]>>();
    for (const event of consumed) {
      const events = byPid.get(event.persistenceId) ?? new Map();
      assert.not.ok(events.has(event.seqNr), `${event.persistenceId} seq_nr ${event.seqNr} consumed twice`);
      events.set(event.seqNr, event);
      byPid.set(event.persistenceId, events);
    }
    assert.is(counters.conflicts ?? 0, 0, "no seq_nr was delivered with two different payloads");
    for (const d of devices) {
      const events = byPid.get(`Sensor|${d.sensorId}`) ?? new Map();
      for (const seq of d.acked) {
        const event = events.get(seq);
        assert.ok(event, `${d.sensorId} seq ${seq}: acknowledged to the device, never reached the consumer`);
        assert.is(event.typeUrl, "type.googleapis.com/iot.temperature.TemperatureRead");
        assert.is(event.temperature, Math.round(temperatureOf(seq)));
        assert.is(event.originId, "xsedge-gateway");
      }
      // Nothing the device did not publish (a publish committed just before a kill may lack its PUBACK: still the device's).
      for (const seq of events.keys()) assert.ok(seq >= 1 && seq <= d.published, `${d.sensorId} seq ${seq} was never published`);
    }
    assert.is(byPid.size, devices.length);
    assert.ok(acked > 300, `${acked} acknowledged observations checked`);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- gateway log tail ---\n${gateway?.output.split("\n").slice(-25).join("\n")}\n--- stand-in ---\n${standin.output.slice(-2000)}`);
  } finally {
    await Promise.all(devices.map((d) => d.end().catch(() => {})));
    await gateway?.stop().catch(() => gateway?.kill());
    await standin.stop().catch(() => {});
    dir.remove();
  }
});

test.run();
