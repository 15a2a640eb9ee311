/*
 * A user's app projects (the examples, built by their own tsc) on the fleet
 * engine, as `xsedge sim --app` and `xsedge up --app` run them: devices of
 * two different apps in one xsnap-worker, each with its register or value
 * models, publishing to a real MQTT server on loopback; and the errors for
 * an import the simulator cannot give, with a Moddable SDK checkout's
 * drivers linked or refused.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodeUplinkRecord } from "../../modules/observation/record-decoder.js";
import type { Observation } from "../../modules/observation/record.js";
import { loadApp, type LoadedApp } from "../../simulator/app/load-app.js";
import { fleetApp, importsOf } from "../../simulator/app/app-on-fleet.js";
import { fleetEngine, startFleet, stopFleet } from "../../simulator/fleet.js";
import { projectCopy, REPO } from "../support/app-project.js";
import { startPacketBroker, type PacketBroker } from "../support/packet-broker.js";
import { tempDir, waitFor } from "../support/test-helpers.js";

const observations = (broker: PacketBroker, sensorId: string): Observation[] => broker.publishes.flatMap((p) => {
  const record = decodeUplinkRecord(p.payload);
  const list = record.kind === "observation" ? [record.observation] : record.kind === "batch" ? record.observations : [];
  return list.filter((o) => o.sensorId === sensorId);
});

const projects: Array<{ remove(): void }> = [];
async function example(name: string): Promise<LoadedApp> {
  const project = projectCopy(join(REPO, "examples", name), `fleet-app-${name}`);
  projects.push(project);
  return loadApp(project.path, { moddable: "" });
}

test.after(() => {
  for (const project of projects) project.remove();
});

test("devices of two app projects share one worker, each app with its own models, driver and quantities", async () => {
  const [custom, sdk] = [await example("custom-driver"), await example("sdk-driver")];
  const broker = await startPacketBroker();
  const apps = [fleetApp(custom, ""), fleetApp(sdk, "")];
  assert.equal(apps[1].values, ["embedded:sensor/Humidity-Temperature/SHT3x"], "no SDK: the value model stands in");
  const fleet = await startFleet({
    count: 4, idPrefix: "app", gatewayAddress: "127.0.0.1", gatewayPort: broker.port, samplePeriodMs: 100, workers: 1,
    projectFor: (n) => apps[n % 2], config: { batchMaxAgeMs: 0 },
  });
  try {
    const engine = fleetEngine(fleet);
    assert.is(engine.workers.length, 1);
    const ids = ["app-1", "app-2", "app-3", "app-4"];
    await waitFor("two observations from every device", () => ids.every((id) => observations(broker, id).length >= 2), 20_000);
    const quantities = (id: string) => observations(broker, id)[0].readings.map((r) => r.quantity);
    // Device n runs apps[n % 2]: the odd ones the SHT3x app, the even ones the OPT3001 one.
    for (const id of ["app-1", "app-3"]) assert.equal(quantities(id), ["temperature", "humidity"], id);
    for (const id of ["app-2", "app-4"]) assert.equal(quantities(id), ["illuminance"], id);
    // The models are each device's own (its seed): the two SHT3x devices read different air.
    const first = (id: string) => observations(broker, id)[0].readings[0].value;
    assert.is.not(first("app-1"), first("app-3"));
    assert.is(engine.apps.size, 2, "each bundle compiled once");
    for (const device of engine.devices) assert.is(device.counters.uncaught, 0, `${device.sensorId}: ${device.lastUncaught}`);
  } finally {
    await stopFleet(fleet);
    await broker.close();
  }
});

test("an import the simulator cannot give is named with what to give; a checkout's JavaScript drivers are linked, native ones refused", async () => {
  const sdk = await example("sdk-driver");
  assert.equal(importsOf(`import a from "x";\nimport { b } from 'y';\nimport "z";\nexport { c } from "w";\nconst s = "import q from 'no'";`), ["x", "y", "z", "w"]);
  const bare = { ...sdk, models: {} };
  assert.throws(() => fleetApp(bare, ""), /"embedded:sensor\/Humidity-Temperature\/SHT3x": \$MODDABLE is not set to an SDK checkout; give a value model for it/);
  // Checkouts of the SDK's layout: the SHT3x driver in JavaScript is linked as a module in place of the stand-in; with native code it is refused.
  const checkout = (native: boolean) => {
    const root = tempDir("fleet-app-sdk");
    const dir = join(root.path, "modules", "drivers", "sensors", "sht3x");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "manifest.json"), JSON.stringify({ modules: { "embedded:sensor/Humidity-Temperature/SHT3x": "$(MODDABLE)/modules/drivers/sensors/sht3x/sht3x" } }));
    writeFileSync(join(dir, "sht3x.js"), `import { CRC8 } from "crc";\nexport default class SHT3x {}\n`);
    if (native) writeFileSync(join(dir, "sht3x.c"), "/* native */\n");
    projects.push(root);
    return root.path;
  };
  const linked = fleetApp(sdk, checkout(false));
  assert.equal(Object.keys(linked.modules), ["embedded:sensor/Humidity-Temperature/SHT3x"]);
  assert.match(linked.modules["embedded:sensor/Humidity-Temperature/SHT3x"], /class SHT3x/);
  assert.equal(linked.values, []);
  const native = checkout(true);
  assert.throws(() => fleetApp(bare, native), /the SDK's driver cannot run in the simulator: its directory has native code \(sht3x\.c\)/);
  assert.equal(fleetApp(sdk, native).values, ["embedded:sensor/Humidity-Temperature/SHT3x"], "a native driver: the value model stands in");
});

test.run();
