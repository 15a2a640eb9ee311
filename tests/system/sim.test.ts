/*
 * `xsedge sim` against a gateway run on its own, as a tester runs it: a
 * real process of XS devices, a real gateway and cloud on 127.0.0.1. Devices
 * without secrets are refused loudly (CONNACK code and reason, per device,
 * counted); `--cloud` registers them at the cloud first (HTTP or Akka gRPC,
 * with a bearer token when given); `--devices-file` brings ids (numeric ones
 * too) and secrets registered elsewhere.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createMemoryLogger } from "../../hosts/log/logger.js";
import { startGateway } from "../../hosts/gateway/gateway.js";
import { StaticRegistry } from "../../hosts/gateway/ingest/sensor-registry.js";
import { startCloud } from "../../simulator/cloud/server.js";
import { ADMIN_TOKEN, GATEWAY_TOKEN, TEST_CREDENTIALS } from "../support/cloud-access.js";
import { tempDir, waitFor } from "../support/test-helpers.js";

const CLI = fileURLToPath(new URL("../../hosts/cli/xsedge.js", import.meta.url));
const DEVICE_WAIT_MS = 20_000;

interface Run { stdout: string; stderr: string; code: Promise<number | null>; stop(): void }

function run(args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  const result: Run = {
    stdout: "",
    stderr: "",
    code: new Promise((resolve) => child.on("close", (code) => resolve(code))),
    stop: () => child.kill("SIGINT"),
  };
  child.stdout.on("data", (d) => (result.stdout += d));
  child.stderr.on("data", (d) => (result.stderr += d));
  const guard = setTimeout(() => child.kill("SIGKILL"), 40_000);
  void result.code.then(() => clearTimeout(guard));
  return result;
}

const simArgs = (port: number, dataDir: string, ...more: string[]) => ["sim", "--gateway", `127.0.0.1:${port}`, "--period", "100", "--data-dir", dataDir, "--log-format", "json", ...more];

test("--devices-file: ids (numeric ones too) and secrets registered elsewhere log in and publish; a device the gateway does not know is refused loudly, with its CONNACK code and reason, and counted", async () => {
  const dir = tempDir("sim-file");
  const registry = new StaticRegistry([{ sensorId: "1", secret: "the-secret-of-1" }, { sensorId: "0042", secret: "the secret of 0042" }]);
  const gateway = await startGateway({ httpPort: null, mqttPort: 0, dataDir: dir.path, cloudUrl: "http://127.0.0.1:9", logger: createMemoryLogger(), registry });
  const file = join(dir.path, "devices.txt");
  writeFileSync(file, "# as registered at the Akka sample\n1 the-secret-of-1\n\n0042   the secret of 0042\nghost never-registered\n");
  const r = run(simArgs(gateway.mqttPort!, join(dir.path, "sim"), "--devices-file", file));
  try {
    await waitFor("observations of 1 and 0042", () => ["1", "0042"].every((id) => gateway.store.queries.recent(1, id).length > 0), DEVICE_WAIT_MS);
    await waitFor("the count", () => r.stderr.includes("3 devices: 2 connected, 1 refused (CONNACK 5 not authorized: 1)"), DEVICE_WAIT_MS);
    const refusals = r.stderr.split("\n").filter((line) => line.includes("refused the login"));
    assert.is(refusals.length, 1, "one line per device, not one per retry");
    assert.match(refusals[0], /ghost: the gateway refused the login: CONNACK 5 not authorized/);
    assert.is(gateway.stats().auth.badSecret, 0);
    r.stop();
    assert.is(await r.code, 0, r.stderr);
    assert.match(r.stderr, /stopped; 3 devices: 2 connected, 1 refused/);
  } finally {
    r.stop();
    await gateway.close();
    dir.remove();
  }
});

test("--cloud registers each device first (at the reference cloud's HTTP API, or at Akka gRPC RegistrationService); the gateway learns them from the cloud and they publish", async () => {
  const dir = tempDir("sim-cloud");
  const cloud = await startCloud({ credentials: TEST_CREDENTIALS, host: "127.0.0.1", port: 0, grpcPort: 0, dataDir: join(dir.path, "cloud"), logger: createMemoryLogger("cloud") });
  const gateway = await startGateway({
    httpPort: null, mqttPort: 0, dataDir: join(dir.path, "gateway"), logger: createMemoryLogger("gateway"),
    cloudLink: { transport: "akka-grpc", target: cloud.grpcTarget, token: GATEWAY_TOKEN }, registrationLink: { transport: "akka-grpc", target: cloud.grpcTarget, token: GATEWAY_TOKEN },
  });
  const viaHttp = run(simArgs(gateway.mqttPort!, join(dir.path, "sim-http"), "--devices", "1", "--id-prefix", "http", "--cloud", cloud.url), { XSEDGE_CLOUD_TOKEN: ADMIN_TOKEN });
  const viaGrpc = run(simArgs(gateway.mqttPort!, join(dir.path, "sim-grpc"), "--devices", "1", "--id-prefix", "grpc", "--cloud", cloud.grpcTarget), { XSEDGE_CLOUD_TOKEN: ADMIN_TOKEN });
  try {
    await waitFor("both registered at the cloud", () => /registered 1 devices at/.test(viaHttp.stderr) && /registered 1 devices at/.test(viaGrpc.stderr), DEVICE_WAIT_MS);
    await waitFor("observations of both at the cloud", () => ["http-1", "grpc-1"].every((id) => cloud.store.after(0, 1000).some((o) => o.sensorId === id)), DEVICE_WAIT_MS);
    viaHttp.stop();
    viaGrpc.stop();
    assert.equal([await viaHttp.code, await viaGrpc.code], [0, 0], viaHttp.stderr + viaGrpc.stderr);
  } finally {
    viaHttp.stop();
    viaGrpc.stop();
    await gateway.close();
    await cloud.close();
    dir.remove();
  }
});

test("--cloud sends the token as authorization: Bearer (from the flag or XSEDGE_CLOUD_TOKEN); a refused registration stops the sim with the cloud's answer", async () => {
  const seen: (string | undefined)[] = [];
  let answer = 201;
  const server = createServer((req, res) => {
    seen.push(req.headers.authorization);
    req.resume();
    req.on("end", () => res.writeHead(answer, { "content-type": "application/json" }).end(answer === 201 ? "{}" : '{"error":"a valid admin token is required"}'));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const dir = tempDir("sim-token");
  try {
    answer = 401;
    const refused = run(simArgs(9, join(dir.path, "sim"), "--devices", "1", "--cloud", url), { XSEDGE_CLOUD_TOKEN: "env-token" });
    assert.is(await refused.code, 1);
    const line = refused.stderr.split("\n").find((l) => l.includes("could not start"));
    assert.ok(line, refused.stderr);
    assert.match(JSON.parse(line!).msg, /registering sim-1 at http:\/\/127\.0\.0\.1:\d+ failed: HTTP 401 \{"error":"a valid admin token is required"\}/);
    assert.equal(seen, ["Bearer env-token"]);
    answer = 201;
    const flagged = run(simArgs(9, join(dir.path, "sim"), "--devices", "2", "--cloud", url, "--cloud-token", "flag-token"), { XSEDGE_CLOUD_TOKEN: "env-token" });
    await waitFor("both registered", () => seen.length === 3, DEVICE_WAIT_MS);
    flagged.stop();
    assert.equal(seen.slice(1), ["Bearer flag-token", "Bearer flag-token"], "the flag wins over the environment");
    assert.not.ok(refused.stderr.includes("env-token") || flagged.stderr.includes("flag-token"), "the token is never logged");
    await flagged.code;
  } finally {
    server.close();
    dir.remove();
  }
});

test("usage: a bad devices file names its line, and flags that cannot work together are refused, exit 2", async () => {
  const dir = tempDir("sim-usage");
  const file = join(dir.path, "devices.txt");
  writeFileSync(file, "good-1 long-enough-secret\nonly-an-id\nbad/id some-long-secret\nshort short\ngood-1 long-enough-secret\n");
  const cases: Array<[string[], RegExp]> = [
    [["sim", "--devices-file", file], new RegExp(`4 errors in --devices-file:\\n  ${file}:2: expected "<sensorId> <secret>", got one word\\n  ${file}:3: sensor id "bad/id" must be 1 to 64 .*\\n  ${file}:4: the secret of short must be 8 to 128 characters, it has 5\\n  ${file}:5: good-1 is already on line 1`)],
    [["sim", "--devices-file", file, "--devices", "3"], /--devices has no effect with --devices-file/],
    [["sim", "--devices-file", join(dir.path, "missing.txt")], /--devices-file: cannot read .*missing\.txt: ENOENT/],
    [["sim", "--cloud", "not a cloud"], /--cloud must be http\(s\):\/\/host:port \(HTTP API\) or host:port \(Akka gRPC\), got "not a cloud"/],
    [["sim", "--cloud-token", "t"], /--cloud-token \(or XSEDGE_CLOUD_TOKEN\) has no effect without --cloud/],
  ];
  for (const [args, message] of cases) {
    const r = run(args);
    assert.is(await r.code, 2, args.join(" "));
    assert.match(r.stderr, message, args.join(" "));
  }
  dir.remove();
});

test.run();
