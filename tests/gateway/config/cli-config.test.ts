import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { gatewayCommand } from "../../../hosts/gateway/cli.js";
import type { CommandIo } from "../../../hosts/cli/command.js";
import { tempDir, waitFor, within } from "../../support/test-helpers.js";

function capture(signal?: AbortSignal): CommandIo & { stdout: string; stderr: string } {
  const io = { stdout: "", stderr: "", signal, out: (t: string) => void (io.stdout += t), err: (t: string) => void (io.stderr += t) };
  return io;
}

test("--print-config prints the resolved settings with their sources, secrets redacted, and starts nothing", async () => {
  const dir = tempDir("gw-print");
  const config = join(dir.path, "gw.yaml");
  writeFileSync(config, "mqtt:\n  port: 1999\nexternalBroker:\n  url: mqtt://broker\n  password: hunter2\n");
  const io = capture();
  // The file comes from the environment here, the data directory from a flag.
  const env = { XSEDGE_GATEWAY_CONFIG: config, XSEDGE_GATEWAY_RELAY_BATCH_SIZE: "50" };
  const code = await gatewayCommand(["--print-config", "--data-dir", "/srv/gw"], io, env);
  assert.is(code, 2, io.stderr);
  assert.match(io.stderr, new RegExp(`mqtt.port \\(${config}:2:9\\) has no effect with externalBroker.url`));
  writeFileSync(config, "externalBroker:\n  url: mqtt://broker\n  password: hunter2\n");
  const again = capture();
  assert.is(await gatewayCommand(["--print-config", "--data-dir", "/srv/gw"], again, env), 0);
  assert.match(again.stdout, /^dataDir: \/srv\/gw # --data-dir$/m);
  assert.match(again.stdout, /^  batchSize: 50 # XSEDGE_GATEWAY_RELAY_BATCH_SIZE$/m);
  assert.match(again.stdout, new RegExp(`^  url: mqtt://broker # ${config}:2:8$`, "m"));
  assert.not.match(again.stdout, /hunter2/);
  assert.is(again.stderr, "", "no gateway was started, so nothing was logged");
  dir.remove();
});

test("a config file larger than 1 MiB is refused before it is read", async () => {
  const dir = tempDir("gw-big");
  const config = join(dir.path, "gw.yaml");
  writeFileSync(config, `# ${"x".repeat(2 * 1024 * 1024)}\n`);
  const io = capture();
  assert.is(await gatewayCommand(["--config", config, "--print-config"], io, {}), 2);
  assert.match(io.stderr, new RegExp(`^xsedge gateway: --config: ${config} has 2097155 bytes, more than a config file's 1048576`));
  dir.remove();
});

test("an unreadable config file is a usage error naming it", async () => {
  const io = capture();
  assert.is(await gatewayCommand(["--config", "/nonexistent/gw.yaml"], io, {}), 2);
  assert.match(io.stderr, /^xsedge gateway: --config: cannot read \/nonexistent\/gw\.yaml: ENOENT/);
  const viaEnv = capture();
  assert.is(await gatewayCommand([], viaEnv, { XSEDGE_GATEWAY_CONFIG: "/nonexistent/gw.yaml" }), 2);
  assert.match(viaEnv.stderr, /XSEDGE_GATEWAY_CONFIG: cannot read/);
});

test("a mistyped flag or variable gets a suggestion", async () => {
  const io = capture();
  assert.is(await gatewayCommand(["--mqtt-prot", "1"], io, {}), 2);
  assert.match(io.stderr, /unknown option --mqtt-prot \(did you mean --mqtt-port\?\)/);
  const env = capture();
  assert.is(await gatewayCommand([], env, { XSEDGE_GATEWAY_DATADIR: "/x" }), 2);
  assert.match(env.stderr, /XSEDGE_GATEWAY_DATADIR: no such setting \(did you mean XSEDGE_GATEWAY_DATA_DIR\?\)/);
});

test("--help documents every flag of the schema and works even with a broken environment", async () => {
  const io = capture();
  assert.is(await gatewayCommand(["--help"], io, { XSEDGE_GATEWAY_BOGUS: "1" }), 0);
  for (const flag of ["--config", "--print-config", "--http-port", "--udp-port", "--outbox-max-bytes", "--shutdown-deadline-ms", "--host"]) {
    assert.match(io.stdout, flag);
  }
  assert.not.match(io.stdout, /--external-broker-password/);
});

test("the gateway runs with the file's settings, overridden by env and flags", async () => {
  const dir = tempDir("gw-run");
  const config = join(dir.path, "gw.json");
  writeFileSync(config, JSON.stringify({ dataDir: join(dir.path, "from-file"), mqtt: { host: "127.0.0.1", port: 0 }, http: { port: 0 }, log: { level: "debug" } }));
  const stop = new AbortController();
  const io = capture(stop.signal);
  const exit = gatewayCommand(["--config", config, "--data-dir", join(dir.path, "from-flag")], io, { XSEDGE_GATEWAY_CLOUD_TRANSPORT: "http", XSEDGE_GATEWAY_CLOUD_URL: "http://127.0.0.1:9" });
  await waitFor("the gateway to start", () => /gateway started/.test(io.stderr));
  const started = io.stderr.split("\n").filter(Boolean).map((line) => JSON.parse(line)).find((line) => line.msg === "gateway started");
  assert.is(started.store, join(dir.path, "from-flag", "observations.db"));
  assert.is(started.cloud, "http http://127.0.0.1:9");
  assert.match(started.mqtt, /^127\.0\.0\.1:\d+$/);
  stop.abort();
  assert.is(await within("the command to return", exit), 0);
  dir.remove();
});

test.run();
