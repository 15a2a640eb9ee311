import { test } from "uvu";
import * as assert from "uvu/assert";
import { cloudCommand } from "../../simulator/cloud/cli.js";
import type { CommandIo } from "../../hosts/cli/command.js";
import { call } from "../support/cloud-http.js";
import { freePort, tempDir, waitFor, within } from "../support/test-helpers.js";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ADMIN_TOKEN, GATEWAY_TOKEN } from "../support/cloud-access.js";

const NO_ENV = {};
const mode = (path: string) => statSync(path).mode & 0o777;

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
  const exit = cloudCommand(["--port", String(port), "--grpc-port", "0", "--data-dir", dir.path], io, NO_ENV);
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
  const running = cloudCommand(["--port", String(port), "--grpc-port", "0", "--data-dir", dir.path], first, NO_ENV);
  await waitFor("the first cloud to listen", () => /cloud listening/.test(first.stderr));
  const second = capture();
  assert.is(await cloudCommand(["--port", String(port), "--grpc-port", "0", "--data-dir", dir.path], second, NO_ENV), 1);
  assert.match(second.stderr, /cloud could not start: .*EADDRINUSE/);
  stop.abort();
  assert.is(await within("the first cloud to stop", running), 0);
  dir.remove();
});

/** Runs the cloud with `argv` and `env` until `use` is done; returns what it logged. */
async function running(argv: string[], env: Record<string, string>, use: (url: string) => Promise<void>): Promise<string> {
  const stop = new AbortController();
  const io = capture(stop.signal);
  const port = await freePort();
  const exit = cloudCommand(["--port", String(port), "--grpc-port", "0", ...argv], io, env);
  await waitFor("the cloud to listen", () => /cloud listening/.test(io.stderr) || /could not start|Run "xsedge cloud --help"/.test(io.stderr));
  try {
    await use(`http://127.0.0.1:${port}`);
  } finally {
    stop.abort();
    assert.is(await within("the cloud to stop", exit), 0, io.stderr);
  }
  return io.stderr;
}

test("without token settings, admin and gateway tokens are created 0600 in <data-dir>/credentials, logged by path, and kept across restarts", async () => {
  const dir = tempDir("cloud-cli");
  const admin = join(dir.path, "credentials", "admin.token");
  const gateway = join(dir.path, "credentials", "gateway.token");
  let adminToken = "";
  const log = await running(["--data-dir", dir.path], {}, async (url) => {
    adminToken = readFileSync(admin, "utf8").trim();
    assert.is(adminToken.length, 43, "256 random bits, base64url");
    assert.is(mode(admin), 0o600);
    assert.is(mode(gateway), 0o600);
    assert.is(mode(join(dir.path, "credentials")), 0o700);
    assert.is((await call(url, "POST", "/api/v1/sensors", { sensorId: "s-1", secret: "correct horse" }, undefined, null)).status, 401);
    assert.is((await call(url, "POST", "/api/v1/sensors", { sensorId: "s-1", secret: "correct horse" }, undefined, adminToken)).status, 201);
    const gatewayToken = readFileSync(gateway, "utf8").trim();
    assert.is((await call(url, "POST", "/api/v1/sensors", { sensorId: "s-1", secret: "correct horse" }, undefined, gatewayToken)).status, 403);
  });
  assert.match(log, new RegExp(`admin tokens from ${admin} \\(created\\)`));
  assert.not.ok(log.includes(adminToken), "the log names the file, never the token");
  const again = await running(["--data-dir", dir.path], {}, async (url) => {
    assert.is((await call(url, "GET", "/api/v1/sensors", undefined, undefined, adminToken)).status, 200, "the same token after a restart");
  });
  assert.not.match(again, /\(created\)/);
  dir.remove();
});

test("tokens from --admin-token-file (several, with comments) and from XSEDGE_CLOUD_GATEWAY_TOKEN; no file is created then", async () => {
  const dir = tempDir("cloud-cli");
  const file = join(dir.path, "admins");
  const second = "second-admin-token-0123456789";
  writeFileSync(file, `# the operators\n${ADMIN_TOKEN}\n\n${second}\n`);
  await running(["--data-dir", join(dir.path, "data"), "--admin-token-file", file], { XSEDGE_CLOUD_GATEWAY_TOKEN: GATEWAY_TOKEN }, async (url) => {
    for (const token of [ADMIN_TOKEN, second]) assert.is((await call(url, "GET", "/api/v1/sensors", undefined, undefined, token)).status, 200);
    assert.is((await call(url, "GET", "/api/v1/registrations/stream?after=999", undefined, undefined, "wrong-token-0123456789")).status, 401);
  });
  assert.throws(() => statSync(join(dir.path, "data", "credentials")), /ENOENT/);
  dir.remove();
});

const credentialErrors: Array<[string, (dir: string) => { argv: string[]; env: Record<string, string> }, RegExp]> = [
  ["a token too short", (dir) => (writeFileSync(join(dir, "t"), "short-token\n"), { argv: ["--admin-token-file", join(dir, "t")], env: {} }), /--admin-token-file .*\/t line 1: the token is 11 characters, at least 16/],
  ["an unreadable token file", (dir) => ({ argv: ["--gateway-token-file", join(dir, "missing")], env: {} }), /--gateway-token-file .*missing is unreadable: ENOENT/],
  ["a flag and a variable for one role", (dir) => (writeFileSync(join(dir, "t"), `${ADMIN_TOKEN}\n`), { argv: ["--admin-token-file", join(dir, "t")], env: { XSEDGE_CLOUD_ADMIN_TOKEN: ADMIN_TOKEN } }), /--admin-token-file and XSEDGE_CLOUD_ADMIN_TOKEN are both set/],
  ["one file for two roles", (dir) => (writeFileSync(join(dir, "t"), `${ADMIN_TOKEN}\n`), { argv: ["--admin-token-file", join(dir, "t"), "--gateway-token-file", join(dir, "t")], env: {} }), /a token is both an admin and a gateway token/],
];

for (const [what, setup, message] of credentialErrors) {
  test(`${what} is a usage error (exit 2) that does not quote the token`, async () => {
    const dir = tempDir("cloud-cli");
    const { argv, env } = setup(dir.path);
    const io = capture();
    assert.is(await cloudCommand(["--data-dir", join(dir.path, "data"), ...argv], io, env), 2);
    assert.match(io.stderr, message);
    assert.not.ok(io.stderr.includes(ADMIN_TOKEN) || io.stderr.includes("short-token"), io.stderr);
    dir.remove();
  });
}

test.run();
