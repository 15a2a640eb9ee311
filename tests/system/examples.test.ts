/*
 * Every example in examples/, as a firmware developer would run it: its
 * project built by its own tsc and bundled, run on XS with its simulator
 * models, publishing to a real gateway, changed by downlinks through the
 * gateway's API. Virtual time for the device, so minutes of sampling take
 * seconds; the network (real sockets) in real time.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import { loadApp } from "../../simulator/app/load-app.js";
import { startAppFleet, stopAppFleet, type AppDevice } from "../../simulator/app/app-fleet.js";
import { VirtualClock } from "../../simulator/engine/host-clock.js";
import type { Reading } from "../../modules/observation/record.js";
import { projectCopy, REPO } from "../support/app-project.js";
import { pollFor, secretOf, startApiGateway, type ApiGateway } from "../support/gateway-api.js";
import { waitFor } from "../support/test-helpers.js";

interface Run {
  t: ApiGateway;
  clock: VirtualClock;
  devices: AppDevice[];
  sensorId: string;
  traces: string[];
  /** Advances the devices' clock by `ms`, letting the network carry what they sent after each step. */
  run(ms: number, step?: number): Promise<void>;
  readings(): Reading[][];
  downlink(body: object): Promise<{ id: number; state: string; detail: string | null }>;
  stop(): Promise<void>;
}

async function start(example: string): Promise<Run> {
  const project = projectCopy(join(REPO, "examples", example), `example-${example}`);
  const sensorId = `${example}-1`;
  const t = await startApiGateway([sensorId]);
  const app = await loadApp(project.path, { moddable: "" });
  const clock = new VirtualClock(Date.now());
  const traces: string[] = [];
  const devices = await startAppFleet({
    app, count: 1, idPrefix: example, gatewayAddress: "127.0.0.1", gatewayPort: t.gateway.mqttPort!, clock,
    secretFor: secretOf, config: { batchMaxAgeMs: 0 }, onTrace: (_id, line) => traces.push(line),
  });
  // Each virtual second, until the device and the gateway are done with it:
  // the gateway's PUBACKs follow its commit's fsync, which a loaded machine
  // may take tens of milliseconds over, and what the test reads next is the
  // gateway's store. Bounded: a device that keeps talking fails its assertions.
  const bytesIn = () => devices.reduce((sum, d) => sum + d.device.stats().tcp.bytesIn, 0);
  const settle = async () => {
    const until = Date.now() + 2000;
    let seen = -1;
    while (Date.now() < until) {
      for (const d of devices) await d.device.idle();
      const { awaitingCommit, awaitingSync } = t.gateway.stats().outbox;
      const now = bytesIn();
      if (now === seen && awaitingCommit === 0 && awaitingSync === 0) return;
      seen = now;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  await waitFor("the device's session", () => t.gateway.stats().mqttClients === 1, 8000);
  const runFor = async (ms: number, step = 1000) => {
    for (let done = 0; done < ms; done += step) {
      await clock.advance(step);
      await settle();
    }
  };
  return {
    t, clock, devices, sensorId, traces,
    run: runFor,
    readings: () => t.gateway.store.queries.recent(1000, sensorId).reverse().map((row) => row.observation.readings),
    async downlink(body) {
      const response = await fetch(`${t.base}/api/v1/downlinks`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ sensorId, ...body }) });
      assert.is(response.status, 202);
      const { id } = ((await response.json()) as { downlink: { id: number } }).downlink;
      // The device answers in its own (virtual) time: keep it running until it has.
      return pollFor(`the outcome of downlink ${id}`, async () => {
        await runFor(100, 100);
        const { downlinks } = (await (await fetch(`${t.base}/api/v1/downlinks?id=${id}`)).json()) as { downlinks: Array<{ id: number; state: string; detail: string | null }> };
        return ["applied", "refused", "stale"].includes(downlinks[0].state) ? downlinks[0] : undefined;
      }, 8000);
    },
    async stop() {
      await stopAppFleet(devices);
      await t.done();
      project.remove();
    },
  };
}

const names = (readings: Reading[]) => readings.map((r) => r.quantity);

test("sdk-driver: the SDK's SHT3x (a value model standing in without $MODDABLE), its grouped samples as temperature and humidity", async () => {
  const r = await start("sdk-driver");
  try {
    await r.run(10_000);
    const readings = r.readings();
    assert.ok(readings.length >= 4, `${readings.length} observations in 10 s at one every 2 s`);
    for (const reading of readings) assert.equal(names(reading), ["temperature", "humidity"]);
    const [temperature, humidity] = readings[0];
    assert.ok(Math.abs(temperature.value + humidity.value - 60) < 0.05, "the model's humidity is 60 less the temperature");
  } finally {
    await r.stop();
  }
});

test("two-sensors: each part at its own rate, the BME280's temperature as the app's own quantity, its period changed by a downlink", async () => {
  const r = await start("two-sensors");
  try {
    await r.run(20_000);
    const air = r.readings().filter((x) => names(x).join() === "temperature");
    const board = r.readings().filter((x) => names(x).includes("board_temperature"));
    assert.ok(air.length >= 9 && air.length <= 11, `air every 2 s: ${air.length} in 20 s`);
    assert.ok(board.length >= 1 && board.length <= 2, `board every 10 s: ${board.length} in 20 s`);
    assert.equal(board[0].map((x) => [x.quantity, x.unit]), [["board_temperature", "Cel"], ["humidity", undefined], ["pressure", undefined]]);
    assert.ok(Math.abs(board[0][0].value - 31.5) < 0.1 && Math.abs(board[0][2].value - 100_200) <= 2);
    const outcome = await r.downlink({ settings: { boardPeriodMs: 2000 } });
    assert.is(outcome.state, "applied", String(outcome.detail));
    const before = board.length;
    await r.run(10_000);
    const after = r.readings().filter((x) => names(x).includes("board_temperature")).length - before;
    assert.ok(after >= 4, `every 2 s after the downlink: ${after} in 10 s`);
    // The runtime's commands: flush, identify (traced), reboot (a power cycle: a new boot, nothing applied twice).
    assert.match(String((await r.downlink({ command: "flush" })).detail), /^\d+ records in flash$/);
    assert.is((await r.downlink({ command: "identify" })).state, "applied");
    assert.ok(r.traces.some((line) => line.startsWith(`identify: ${r.sensorId}, boot 1`)));
    assert.equal(await r.downlink({ command: "reboot" }).then((d) => [d.state, d.detail]), ["applied", "restarting"]);
    await r.run(1000, 100); // the restart waits half a second (device time) for the PUBACK and the report to leave
    assert.is(r.devices[0].restarts, 1);
    await r.devices[0].settled();
    await waitFor("the second boot's session", () => r.t.gateway.stats().mqttClients === 1, 8000);
    await r.run(5000);
    const boots = new Set(r.t.gateway.store.queries.recent(1000, r.sensorId).map((row) => row.observation.boot));
    assert.equal([...boots].sort(), [1, 2]);
    assert.is(r.devices[0].restarts, 1, "the reboot command is not applied again after the reboot");
    // The API and the dashboard's JSON carry the declared quantity by name and unit.
    const api = (await (await fetch(`${r.t.base}/api/v1/observations?sensorId=${r.sensorId}&limit=50`)).json()) as { observations: Array<{ readings: Array<{ quantity: string; unit: string }> }> };
    assert.ok(api.observations.some((o) => o.readings.some((x) => x.quantity === "board_temperature" && x.unit === "Cel")));
  } finally {
    await r.stop();
  }
});

test("threshold-alarm: averages recorded instead of samples, an alarm sent at once on crossing a limit the gateway may change, and a command of its own", async () => {
  const r = await start("threshold-alarm");
  try {
    await r.run(60_000);
    const averages = r.readings();
    assert.ok(averages.length >= 5 && averages.every((x) => names(x).join() === "temperature_avg"), `one average every 10 s: ${JSON.stringify(averages.map(names))}`);
    assert.not.ok(averages.some((x) => names(x).includes("temperature")), "the raw samples are not logged");
    assert.is(averages[0][0].unit, "Cel");
    await r.run(8 * 60_000, 2000);
    const alarm = r.readings().find((x) => names(x).includes("alarm"));
    assert.ok(alarm, "the average crossed 28 °C after about eight minutes");
    assert.equal(alarm!.map((x) => [x.quantity, x.quantity === "alarm" ? x.value : x.value > 28]), [["alarm", 1], ["temperature_avg", true]]);
    const raised = await r.downlink({ settings: { limitCelsius: 50 } });
    assert.is(raised.state, "applied");
    await r.run(20_000);
    const alarms = r.readings().filter((x) => names(x).includes("alarm")).map((x) => x[0].value);
    assert.equal(alarms, [1, 0], "back below the raised limit");
    assert.equal(await r.downlink({ command: "silence", arg: 30 }).then((d) => [d.state, d.detail]), ["applied", "silent for 30 min"]);
    assert.equal(await r.downlink({ command: "silence", arg: "long" }).then((d) => [d.state, d.detail]), ["refused", "silence: give the minutes, 1 to 1440"]);
    // The reason is the setting's (on a board, an error class that assigned its name over the frozen Error.prototype's failed with "set name: not writable").
    assert.equal(await r.downlink({ settings: { limitCelsius: 500 } }).then((d) => [d.state, d.detail]), ["refused", "limitCelsius: must be a number from -40 to 125, got 500"]);
  } finally {
    await r.stop();
  }
});

test("custom-driver: the app's own OPT3001 driver against the part's register model, as illuminance", async () => {
  const r = await start("custom-driver");
  try {
    await r.run(30_000);
    const readings = r.readings();
    assert.ok(readings.length >= 4, `${readings.length} observations`);
    for (const reading of readings) {
      assert.equal(names(reading), ["illuminance"]);
      // The model's sky is 350 to 950 lx; the part's resolution at that range is 2.56 lx (0.01 × 2^8).
      assert.ok(reading[0].value >= 348 && reading[0].value <= 952, `${reading[0].value} lx`);
    }
    assert.not.ok(r.traces.some((line) => /sensor light .*(could not open|failed)/.test(line)), r.traces.join("\n"));
  } finally {
    await r.stop();
  }
});

test.run();
