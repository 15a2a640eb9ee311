/*
 * The `xsedge` command as a person runs it: a real process, real ports on
 * 127.0.0.1, Ctrl-C (SIGINT) to stop. `up` is what `npm start` runs.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import { startGateway } from "../../hosts/gateway/gateway.js";
import { tempDir, waitFor } from "../support/test-helpers.js";
import { StaticRegistry } from "../../hosts/gateway/ingest/sensor-registry.js";
import { PreferenceStore } from "../../simulator/engine/preference-store.js";
import { secretFor } from "../support/registrations.js";

const CLI = fileURLToPath(new URL("../../hosts/cli/xsedge.js", import.meta.url));

interface Run { stdout: string; stderr: string; code: Promise<number | null>; stop(): void }

function run(args: string[]): Run {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const result: Run = {
    stdout: "",
    stderr: "",
    code: new Promise((resolve) => child.on("close", (code) => resolve(code))),
    stop: () => child.kill("SIGINT"),
  };
  child.stdout.on("data", (d) => (result.stdout += d));
  child.stderr.on("data", (d) => (result.stderr += d));
  // Never outlive the test file, whatever happens.
  const guard = setTimeout(() => child.kill("SIGKILL"), 30_000);
  void result.code.then(() => clearTimeout(guard));
  return result;
}

test("usage errors name what was wrong and exit 2; --help exits 0", async () => {
  const cases: Array<[string[], number, RegExp]> = [
    [[], 2, /Usage: xsedge <command>/],
    [["nope"], 2, /unknown command "nope"/],
    [["sim", "--help"], 0, /Usage: xsedge sim/],
    [["sim", "--devices", "many"], 2, /--devices must be an integer/],
    [["sim", "--gateway", "localhost"], 2, /--gateway must be <IPv4 address>:<port>/],
    [["up", "--help"], 0, /Usage: xsedge up/],
    [["up", "--period", "1"], 2, /--period must be an integer from 10/],
    [["up", "--frobnicate"], 2, /frobnicate/],
    [["sim", "--no-build"], 2, /--no-build goes with --app/],
    [["sim", "--app", "/nonexistent/app"], 1, /\/nonexistent\/app has no package\.json/],
    [["up", "--no-build"], 2, /--no-build goes with --app/],
    [["new"], 2, /give the directory/],
    [["new", "a", "b"], 2, /one directory, got 2/],
    [["new", "x", "--name", "Bad Name"], 2, /--name must be/],
    [["new", "--help"], 0, /Usage: xsedge new <dir>/],
    [["new", "/tmp"], 2, /\/tmp is not empty/],
    [["bundle", "--app", "/nonexistent/app"], 1, /has no package\.json/],
    [["device"], 2, /Usage: xsedge device/],
    [["device", "set", "s-1"], 2, /set needs at least one <key>=<value>/],
  ];
  for (const [args, expected, message] of cases) {
    const r = run(args);
    assert.is(await r.code, expected, args.join(" "));
    assert.match(r.stdout + r.stderr, message, args.join(" "));
  }
});

test("up starts cloud, gateway and three XS devices, prints their observations, and stops cleanly on Ctrl-C", async () => {
  const dir = tempDir("up");
  const r = run(["up", "--mqtt-port", "0", "--http-port", "0", "--cloud-port", "0", "--cloud-grpc-port", "0", "--data-dir", dir.path, "--batch-age", "0"]);
  try {
    await waitFor("observations from sim-1, sim-2 and sim-3", () => ["sim-1", "sim-2", "sim-3"].every((id) => r.stdout.includes(`  ${id} `)), 20_000);
    assert.match(r.stdout, /sim-3 .* temperature .* humidity .* pressure .* Pa/);
    r.stop();
    assert.is(await r.code, 0, r.stderr);
    assert.match(r.stdout, /stopped: the gateway holds \d+ observations, 0 not yet relayed/);
  } finally {
    r.stop();
    dir.remove();
  }
});

test("sim runs simulated devices against a gateway until Ctrl-C", async () => {
  const dir = tempDir("sim");
  const ids = ["cli-1", "cli-2"];
  const registry = new StaticRegistry(ids.map((sensorId) => ({ sensorId, secret: secretFor(sensorId) })));
  const gateway = await startGateway({ httpPort: null, mqttHost: "127.0.0.1", mqttPort: 0, dataDir: dir.path, cloudUrl: "http://127.0.0.1:9", logger: createMemoryLogger(), registry });
  // Provisioned as a board would be: the secret in the device's preferences, which `sim` keeps under --data-dir.
  for (const id of ids) new PreferenceStore(`${dir.path}/sim/${id}/preferences.json`).set("xsedge-config", "secret", secretFor(id));
  const r = run(["sim", "--devices", "2", "--gateway", `127.0.0.1:${gateway.mqttPort!}`, "--period", "50", "--id-prefix", "cli", "--data-dir", `${dir.path}/sim`]);
  try {
    await waitFor("observations at the gateway", () => gateway.stats().ingest.stored >= 4, 20_000);
    assert.ok(gateway.stats().auth.accepted >= 2, "the devices logged in with their provisioned secrets");
    r.stop();
    assert.is(await r.code, 0, r.stderr);
  } finally {
    r.stop();
    await gateway.close();
    dir.remove();
  }
});

test.run();
