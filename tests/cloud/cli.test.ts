import { test } from "uvu";
import * as assert from "uvu/assert";
import { cloudCommand } from "../../simulator/cloud/cli.js";
import type { CommandIo } from "../../hosts/cli/command.js";
import { call } from "../support/cloud-http.js";
import { freePort, tempDir, waitFor, within } from "../support/test-helpers.js";

function capture(signal?: AbortSignal): CommandIo & { stdout: string; stderr: string } {
  const io = { stdout: "", stderr: "", signal, out: (t: string) => void (io.stdout += t), err: (t: string) => void (io.stderr += t) };
  return io;
}

test("--help prints the usage and returns 0", async () => {
  const io = capture();
  assert.is(await cloudCommand(["-h"], io), 0);
  assert.match(io.stdout, /Usage: xsedge cloud/);
});

const usageErrors: Array<[string[], RegExp]> = [
  [["--nope"], /--nope/],
  [["--port", "abc"], /--port must be a port number from 0 to 65535, got "abc"/],
  [["--port", "-1"], /--port/],
  [["--grpc-port", "70000"], /--grpc-port must be a port number from 0 to 65535, got "70000"/],
  [["--grpc-cert", "c.pem"], /--grpc-cert and --grpc-key go together/],
  [["--grpc-ca", "ca.pem"], /--grpc-ca needs --grpc-cert and --grpc-key/],
  [["--accept-streams", "a,,b"], /--accept-streams must be stream ids separated by commas, got "a,,b"/],
  [["--log-level", "chatty"], /--log-level must be/],
  [["--log-format", "yaml"], /--log-format must be json or pretty/],
];

for (const [argv, message] of usageErrors) {
  test(`${argv.join(" ")} returns 2 with an error naming the problem`, async () => {
    const io = capture();
    assert.is(await cloudCommand(argv, io), 2);
    assert.match(io.stderr, message);
  });
}

test("the command serves until SIGTERM, then closes and returns 0", async () => {
  const dir = tempDir("cloud-cli");
  const port = await freePort();
  const io = capture();
  const exit = cloudCommand(["--port", String(port), "--grpc-port", "0", "--data-dir", dir.path], io);
  await waitFor("the cloud to listen", () => /cloud listening/.test(io.stderr));
  assert.is((await call(`http://127.0.0.1:${port}`, "GET", "/healthz")).status, 200);
  assert.match(io.stderr, /cloud gRPC listening on 127\.0\.0\.1:\d+/);
  // Delivered to the command's handlers as a real signal would be, without signalling the test runner.
  process.emit("SIGTERM");
  assert.is(await within("the command to return", exit), 0);
  assert.match(io.stderr, /stopping \(SIGTERM\)/);
  assert.match(io.stderr, /cloud stopped/);
  assert.is(process.listenerCount("SIGTERM"), 0, "its signal handlers are removed");
  dir.remove();
});

test("a cloud that cannot start (port taken) returns 1 with the reason logged", async () => {
  const dir = tempDir("cloud-cli");
  const stop = new AbortController();
  const first = capture(stop.signal);
  const port = await freePort();
  const running = cloudCommand(["--port", String(port), "--grpc-port", "0", "--data-dir", dir.path], first);
  await waitFor("the first cloud to listen", () => /cloud listening/.test(first.stderr));
  const second = capture();
  assert.is(await cloudCommand(["--port", String(port), "--grpc-port", "0", "--data-dir", dir.path], second), 1);
  assert.match(second.stderr, /cloud could not start: .*EADDRINUSE/);
  stop.abort();
  assert.is(await within("the first cloud to stop", running), 0);
  dir.remove();
});

test.run();
