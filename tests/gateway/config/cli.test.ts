import { test } from "uvu";
import { GATEWAY_TOKEN, TEST_CREDENTIALS } from "../../support/cloud-access.js";
import { writeFileSync } from "node:fs";
import * as assert from "uvu/assert";
import { gatewayCommand } from "../../../hosts/gateway/cli.js";
import type { CommandIo } from "../../../hosts/cli/command.js";
import { encodeObservation } from "../../../modules/observation/record.js";
import { uplinkTopic } from "../../../hosts/gateway/ingest/ingest.js";
import { freePort, observation, tempDir, waitFor, within } from "../../support/test-helpers.js";
import { TestMqttClient } from "../../support/gateway-mqtt-client.js";
import { loginAs, registerAtCloud } from "../../support/registrations.js";
import { startCloud } from "../../../simulator/cloud/server.js";
import { createMemoryLogger } from "../../../hosts/log/logger.js";

function capture(signal?: AbortSignal): CommandIo & { stdout: string; stderr: string } {
  const io = { stdout: "", stderr: "", signal, out: (t: string) => void (io.stdout += t), err: (t: string) => void (io.stderr += t) };
  return io;
}

test("--help prints the usage and returns 0", async () => {
  const io = capture();
  assert.is(await gatewayCommand(["--help"], io), 0);
  assert.match(io.stdout, /Usage: xsedge gateway/);
  assert.match(io.stdout, /--mqtt-port/);
  assert.is(io.stderr, "");
});

const usageErrors: Array<[string[], RegExp]> = [
  [["--bogus"], /--bogus/],
  [["--mqtt-port", "abc"], /--mqtt-port must be a port number from 0 to 65535, got "abc"/],
  [["--mqtt-port", "70000"], /--mqtt-port .* got "70000"/],
  [["--mqtt-port"], /--mqtt-port/],
  [["--cloud-url", "not a url"], /--cloud-url must be a URL/],
  [["--cloud-url", "ftp://x"], /--cloud-url must be an http or https URL/],
  [["--log-level", "loud"], /--log-level must be debug, info, warn or error, got "loud"/],
  [["--log-format", "xml"], /--log-format must be json or pretty/],
  [["extra"], /extra/],
];

for (const [argv, message] of usageErrors) {
  test(`${argv.join(" ")} returns 2 with an error naming the problem`, async () => {
    const io = capture();
    assert.is(await gatewayCommand(argv, io), 2);
    assert.match(io.stderr, message);
    assert.match(io.stderr, /^xsedge gateway: /);
  });
}

test("the command runs the gateway until stopped, then closes cleanly and returns 0", async () => {
  const dir = tempDir("gw-cli");
  const port = await freePort();
  const stop = new AbortController();
  const io = capture(stop.signal);
  // The gateway learns its devices from the cloud's registration stream.
  const cloud = await startCloud({ credentials: TEST_CREDENTIALS, port: 0, grpcPort: 0, dataDir: `${dir.path}/cloud`, logger: createMemoryLogger() });
  await registerAtCloud(cloud.url, "s-1");
  // Its credential at the cloud from a file, as an operator gives it.
  writeFileSync(`${dir.path}/gateway.token`, `${GATEWAY_TOKEN}\n`);
  const exit = gatewayCommand(
    ["--http-port", "0", "--mqtt-port", String(port), "--data-dir", `${dir.path}/gateway`, "--cloud-transport", "http", "--cloud-url", cloud.url, "--cloud-token-file", `${dir.path}/gateway.token`, "--log-format", "pretty"],
    io,
  );
  await waitFor("the gateway to start", () => /gateway started/.test(io.stderr));
  await waitFor("the registration of s-1 to arrive", () => /sensor s-1 registered/.test(io.stderr));
  const device = await TestMqttClient.connect(port, "s-1", loginAs("s-1"));
  await device.puback(device.publish(uplinkTopic("s-1"), encodeObservation(observation("s-1", 1))));
  stop.abort();
  assert.is(await within("the command to return", exit), 0);
  await within("the device to be disconnected", device.closed);
  assert.match(io.stderr, /stopping \(abort\)/);
  assert.match(io.stderr, /gateway stopped/);
  assert.not.ok(io.stderr.includes(GATEWAY_TOKEN), "the token is never logged");
  await within("cloud close", cloud.close());
  dir.remove();
});

test("a gateway that cannot start (port taken) returns 1 with the reason logged", async () => {
  const dir = tempDir("gw-cli");
  const port = await freePort();
  const stop = new AbortController();
  const first = capture(stop.signal);
  const cloudUrl = `http://127.0.0.1:${await freePort()}`;
  const running = gatewayCommand(["--http-port", "0", "--mqtt-port", String(port), "--data-dir", dir.path, "--cloud-transport", "http", "--cloud-url", cloudUrl], first);
  await waitFor("the first gateway to start", () => /gateway started/.test(first.stderr));
  const second = capture();
  assert.is(await gatewayCommand(["--http-port", "0", "--mqtt-port", String(port), "--data-dir", dir.path, "--cloud-transport", "http", "--cloud-url", cloudUrl], second), 1);
  assert.match(second.stderr, /gateway could not start: .*EADDRINUSE/);
  stop.abort();
  assert.is(await within("the first gateway to stop", running), 0);
  dir.remove();
});

test.run();
